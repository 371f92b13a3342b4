{#- One row per month x plan tier x billing interval: paying customers' MRR by their primary plan (the largest
    active subscription at the snapshot; a customer's whole MRR counts under it). Internal accounts excluded. -#}

with paying as (
    select * from {{ ref('fct_mrr') }}
    where is_paying
),

by_plan as (
    select
        month,
        tier,
        billing_interval,
        min(case when is_closed_month then 1 else 0 end) = 1 as is_closed_month,
        sum(mrr) as mrr,
        cast(count(*) as bigint) as paying_customers
    from paying
    group by month, tier, billing_interval
)

select
    month,
    tier,
    billing_interval,
    is_closed_month,
    cast(mrr as decimal(18, 2)) as mrr,
    cast(mrr * 12 as decimal(18, 2)) as arr,
    paying_customers,
    cast(round({{ revenue_divide('mrr', 'paying_customers') }}, 2) as decimal(18, 2)) as arpa,
    {{ safe_ratio('mrr', 'sum(mrr) over (partition by month)') }} as share_of_mrr,
    {{ safe_ratio('paying_customers', 'sum(paying_customers) over (partition by month)') }} as share_of_customers
from by_plan
