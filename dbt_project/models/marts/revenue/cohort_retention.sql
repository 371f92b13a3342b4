{#- One row per cohort month x months since start: cohort = month of the customer's first MRR > 0
    (METRICS.md "Cohort retention"). Internal accounts excluded. -#}

with fct_mrr as (
    select month, customer_id, cohort_month, mrr, is_closed_month from {{ ref('fct_mrr') }}
),

starting as (
    select customer_id, mrr as starting_mrr
    from fct_mrr
    where month = cohort_month
),

aggregated as (
    select
        fct_mrr.cohort_month,
        fct_mrr.month,
        min(case when fct_mrr.is_closed_month then 1 else 0 end) = 1 as is_closed_month,
        cast(count(*) as bigint) as cohort_size,
        cast(sum(case when fct_mrr.mrr > 0 then 1 else 0 end) as bigint) as active_customers,
        sum(starting.starting_mrr) as cohort_starting_mrr,
        sum(fct_mrr.mrr) as cohort_mrr,
        sum(case when fct_mrr.mrr < starting.starting_mrr then fct_mrr.mrr else starting.starting_mrr end)
            as cohort_mrr_capped
    from fct_mrr
    inner join starting on fct_mrr.customer_id = starting.customer_id
    group by fct_mrr.cohort_month, fct_mrr.month
)

select
    cohort_month,
    {{ months_between_starts('cohort_month', 'month') }} as months_since_start,
    month,
    is_closed_month,
    cohort_size,
    active_customers,
    {{ safe_ratio('active_customers', 'cohort_size') }} as logo_retention,
    cast(cohort_starting_mrr as decimal(18, 2)) as cohort_starting_mrr,
    cast(cohort_mrr as decimal(18, 2)) as cohort_mrr,
    {{ safe_ratio('cohort_mrr', 'cohort_starting_mrr') }} as net_revenue_retention,
    {{ safe_ratio('cohort_mrr_capped', 'cohort_starting_mrr') }} as gross_revenue_retention
from aggregated
