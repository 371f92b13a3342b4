{#- One row per billing customer (Lago customers.external_id), internal accounts included and flagged.
    "Current" columns describe the snapshot of the as-of month (end of the as-of day). -#}

with customers as (
    select * from {{ ref('stg_lago__customers') }}
),

channels as (
    select * from {{ ref('int_revenue__customer_signup_channel') }}
),

customer_months as (
    select * from {{ ref('int_revenue__customer_months') }}
),

paid_history as (
    select
        customer_external_id,
        min(case when mrr_billing_currency > 0 then month_start end) as first_paid_month,
        max(month_start) as last_month
    from customer_months
    group by customer_external_id
),

current_month as (
    select customer_months.*
    from customer_months
    inner join paid_history
        on customer_months.customer_external_id = paid_history.customer_external_id
        and customer_months.month_start = paid_history.last_month
),

fx_rates as (
    select * from {{ ref('int_revenue__fx_rates') }}
),

lifetime_billings as (
    select
        invoices.customer_id,
        sum(invoices.sub_total_excluding_taxes_amount) as lifetime_billings,
        sum(round(invoices.sub_total_excluding_taxes_amount * fx_rates.rate_to_reporting, 2))
            as lifetime_billings_reporting
    from {{ ref('stg_lago__invoices') }} as invoices
    left join fx_rates
        on {{ month_start('invoices.issuing_date') }} = fx_rates.month_start
        and invoices.currency = fx_rates.currency
    where invoices.status = 'finalized'
    group by invoices.customer_id
)

select
    customers.customer_external_id as customer_id,
    customers.customer_id as lago_customer_id,
    customers.customer_name,
    customers.email_domain,
    customers.country,
    customers.currency as billing_currency,
    cast(customers.created_at as date) as signup_date,
    coalesce(channels.signup_channel, 'unknown') as signup_channel,
    paid_history.first_paid_month as cohort_month,
    current_month.plan_code as current_plan_code,
    current_month.tier as current_tier,
    current_month.billing_interval as current_billing_interval,
    coalesce(current_month.mrr_billing_currency, 0) as current_mrr_billing_currency,
    cast(coalesce(round(current_month.mrr_billing_currency * fx_rates.rate_to_reporting, 2), 0) as decimal(18, 2))
        as current_mrr,
    case
        when current_month.is_delinquent then 'delinquent'
        when current_month.mrr_billing_currency > 0 then 'paying'
        when current_month.is_in_trial then 'trial'
        when paid_history.first_paid_month is not null then 'churned'
        when current_month.active_subscriptions > 0 then 'free'
        else 'inactive'
    end as status,
    cast(coalesce(lifetime_billings.lifetime_billings, 0) as decimal(18, 2)) as lifetime_billings,
    cast(coalesce(lifetime_billings.lifetime_billings_reporting, 0) as decimal(18, 2)) as lifetime_billings_reporting,
    customers.is_internal,
    customers.is_deleted
from customers
left join channels on customers.customer_external_id = channels.customer_external_id
left join paid_history on customers.customer_external_id = paid_history.customer_external_id
left join current_month on customers.customer_external_id = current_month.customer_external_id
left join fx_rates
    on current_month.month_start = fx_rates.month_start
    and current_month.currency = fx_rates.currency
left join lifetime_billings on customers.customer_id = lifetime_billings.customer_id
