{#- Customer x month MRR with its movement (METRICS.md "MRR", "MRR movements"; metric_rules.md "Currency"):
    from the customer's first month with MRR > 0 through the as-of month, zero rows kept after churn.
    Internal accounts are excluded. Per customer-month:  mrr = previous mrr + fx_adjustment + movement_amount. -#}

with customer_months as (
    select * from {{ ref('int_revenue__customer_months') }}
    where not is_internal
),

fx_rates as (
    select * from {{ ref('int_revenue__fx_rates') }}
),

converted as (
    select
        customer_months.*,
        fx_rates.rate_to_reporting,
        cast(round(customer_months.mrr_billing_currency * fx_rates.rate_to_reporting, 2) as decimal(18, 2)) as mrr,
        min(case when customer_months.mrr_billing_currency > 0 then customer_months.month_start end)
            over (partition by customer_months.customer_external_id) as first_paid_month
    from customer_months
    left join fx_rates
        on customer_months.month_start = fx_rates.month_start
        and customer_months.currency = fx_rates.currency
),

with_previous as (
    select
        converted.*,
        coalesce(
            lag(mrr_billing_currency) over (partition by customer_external_id order by month_start), 0
        ) as previous_mrr_billing_currency,
        coalesce(lag(mrr) over (partition by customer_external_id order by month_start), 0) as previous_mrr,
        -- months before this one with MRR > 0 (reactivation vs new)
        coalesce(
            sum(case when mrr_billing_currency > 0 then 1 else 0 end) over (
                partition by customer_external_id order by month_start
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as earlier_paid_months
    from converted
    where month_start >= first_paid_month
),

classified as (
    select
        with_previous.*,
        -- last month's billing-currency MRR at this month's rate (constant currency)
        cast(round(previous_mrr_billing_currency * rate_to_reporting, 2) as decimal(18, 2)) as previous_mrr_constant,
        case
            when previous_mrr_billing_currency = 0 and mrr_billing_currency > 0 and earlier_paid_months = 0
                then 'new'
            when previous_mrr_billing_currency = 0 and mrr_billing_currency > 0 then 'reactivation'
            when previous_mrr_billing_currency > 0 and mrr_billing_currency > previous_mrr_billing_currency
                then 'expansion'
            when previous_mrr_billing_currency > 0 and mrr_billing_currency > 0
                and mrr_billing_currency < previous_mrr_billing_currency
                then 'contraction'
            when previous_mrr_billing_currency > 0 and mrr_billing_currency = 0 then 'churn'
        end as movement_type
    from with_previous
)

select
    month_start as month,
    customer_external_id as customer_id,
    mrr,
    mrr_billing_currency,
    currency,
    rate_to_reporting as fx_rate,
    plan_code,
    tier,
    billing_interval,
    mrr_billing_currency > 0 as is_paying,
    is_in_trial,
    is_delinquent,
    movement_type,
    cast(case when movement_type is null then 0 else mrr - previous_mrr_constant end as decimal(18, 2))
        as movement_amount,
    cast(previous_mrr_constant - previous_mrr as decimal(18, 2)) as fx_adjustment,
    previous_mrr,
    first_paid_month as cohort_month,
    is_closed_month
from classified
