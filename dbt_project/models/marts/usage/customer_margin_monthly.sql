{#- Customer x month: MRR, usage revenue, usage cost and gross margin (METRICS.md "Usage, cost and margin"),
    external customers only, in the reporting currency at the month's FX rate. Rows: every customer-month of
    fct_mrr (same MRR) plus any other customer-month with usage or usage revenue (MRR 0 there). -#}

with months as (
    select month_start, snapshot_before, is_closed_month from {{ ref('int_revenue__months') }}
),

external_customers as (
    select customer_external_id, max(customer_id) as lago_customer_id
    from {{ ref('stg_lago__customers') }}
    group by customer_external_id
    having not bool_or(is_internal)
),

fx_rates as (
    select month_start, currency, rate_to_reporting from {{ ref('int_revenue__fx_rates') }}
),

mrr as (
    select month, customer_id, mrr, is_paying from {{ ref('fct_mrr') }}
),

usage as (
    select
        {{ month_start('usage_date') }} as month,
        customer_id,
        cast(sum(requests) as bigint) as requests,
        cast(sum(total_tokens) as bigint) as total_tokens,
        sum(cost_usd) as cost_usd
    from {{ ref('fct_usage_daily') }}
    where customer_id is not null
    group by 1, customer_id
),

-- usage revenue: invoiced Lago charge fees, by the month of the service period they bill (charges_from_datetime)
charge_fees as (
    select
        customers.customer_external_id as customer_id,
        {{ month_start('coalesce(invoice_subscriptions.charges_from_datetime, invoice_subscriptions.from_datetime, invoices.issuing_date)') }}
            as month,
        fees.currency,
        sum(fees.amount) as amount
    from {{ ref('stg_lago__fees') }} as fees
    inner join {{ ref('stg_lago__invoices') }} as invoices on fees.invoice_id = invoices.invoice_id
    inner join {{ ref('stg_lago__customers') }} as customers on invoices.customer_id = customers.customer_id
    left join {{ ref('stg_lago__invoice_subscriptions') }} as invoice_subscriptions
        on fees.invoice_id = invoice_subscriptions.invoice_id
        and fees.subscription_id = invoice_subscriptions.subscription_id
    where fees.fee_type = 'charge'
        and fees.deleted_at is null
        and invoices.status = 'finalized'
    group by 1, 2, fees.currency
),

usage_revenue as (
    select
        charge_fees.customer_id,
        charge_fees.month,
        sum(round(charge_fees.amount * fx_rates.rate_to_reporting, 2)) as usage_revenue
    from charge_fees
    left join fx_rates
        on charge_fees.month = fx_rates.month_start
        and charge_fees.currency = fx_rates.currency
    group by charge_fees.customer_id, charge_fees.month
),

-- token quota: free units of the charges of every plan active at the month-end snapshot (trials included)
quota as (
    select
        subscriptions.customer_external_id as customer_id,
        months.month_start as month,
        cast(sum(charges.free_units) as bigint) as plan_quota_tokens
    from {{ ref('int_revenue__subscriptions') }} as subscriptions
    inner join months
        on subscriptions.started_at < months.snapshot_before
        and (subscriptions.terminated_at is null or subscriptions.terminated_at >= months.snapshot_before)
    inner join {{ ref('stg_lago__charges') }} as charges
        on subscriptions.plan_id = charges.plan_id
        and charges.deleted_at is null
    group by subscriptions.customer_external_id, months.month_start
),

active_users as (
    select
        users.customer_id,
        {{ month_start('activity.activity_date') }} as month,
        count(distinct activity.user_id) as active_users
    from {{ ref('int_users__activity_daily') }} as activity
    inner join {{ ref('dim_users') }} as users on activity.user_id = users.user_id
    where activity.is_active
        and not users.is_internal
        and users.customer_id is not null
        and activity.activity_date <= {{ as_of_date() }}
    group by users.customer_id, {{ month_start('activity.activity_date') }}
),

spine as (
    select customer_id, month from mrr
    union
    select customer_id, month from usage
    union
    select customer_id, month from usage_revenue
),

joined as (
    select
        spine.month,
        spine.customer_id,
        coalesce(mrr.is_paying, false) as is_paying,
        coalesce(mrr.mrr, 0) as mrr,
        cast(coalesce(usage_revenue.usage_revenue, 0) as decimal(18, 2)) as usage_revenue,
        coalesce(usage.requests, 0) as requests,
        coalesce(usage.total_tokens, 0) as total_tokens,
        cast(coalesce(usage.cost_usd, 0) as decimal(18, 6)) as usage_cost_usd,
        cast(round(cast(coalesce(usage.cost_usd, 0) as decimal(18, 6)) * usd_rates.rate_to_reporting, 2)
            as decimal(18, 2)) as usage_cost,
        quota.plan_quota_tokens,
        coalesce(active_users.active_users, 0) as active_users,
        months.is_closed_month
    from spine
    inner join external_customers on spine.customer_id = external_customers.customer_external_id
    inner join months on spine.month = months.month_start
    left join mrr on spine.customer_id = mrr.customer_id and spine.month = mrr.month
    left join usage on spine.customer_id = usage.customer_id and spine.month = usage.month
    left join usage_revenue on spine.customer_id = usage_revenue.customer_id and spine.month = usage_revenue.month
    left join quota on spine.customer_id = quota.customer_id and spine.month = quota.month
    left join active_users on spine.customer_id = active_users.customer_id and spine.month = active_users.month
    left join fx_rates as usd_rates on spine.month = usd_rates.month_start and usd_rates.currency = 'USD'
)

select
    month,
    customer_id,
    is_paying,
    mrr,
    usage_revenue,
    cast(mrr + usage_revenue as decimal(18, 2)) as total_revenue,
    usage_cost_usd,
    usage_cost,
    cast(mrr + usage_revenue - usage_cost as decimal(18, 2)) as gross_margin,
    {{ percent_of('mrr + usage_revenue - usage_cost', 'mrr + usage_revenue') }} as margin_pct,
    requests,
    total_tokens,
    plan_quota_tokens,
    {{ percent_of('total_tokens', 'plan_quota_tokens') }} as quota_use_pct,
    active_users,
    {{ decimal_ratio('usage_cost', 'active_users', 2) }} as cost_per_active_user,
    is_closed_month
from joined
