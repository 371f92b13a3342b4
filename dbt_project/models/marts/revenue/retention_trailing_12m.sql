{#- One row per month M that has a month M-12 in the data: trailing-12-month net and gross revenue retention of
    the customers paying at the end of M-12 (METRICS.md "NRR / GRR"); customers new since M-12 are excluded. -#}

with fct_mrr as (
    select month, customer_id, mrr, is_closed_month from {{ ref('fct_mrr') }}
),

base as (
    select
        current_month.month,
        current_month.is_closed_month,
        base_month.month as base_month,
        base_month.customer_id,
        base_month.mrr as base_mrr,
        current_month.mrr as current_mrr
    from fct_mrr as base_month
    inner join fct_mrr as current_month
        on base_month.customer_id = current_month.customer_id
        and current_month.month = {{ add_months('base_month.month', 12) }}
    where base_month.mrr > 0
),

aggregated as (
    select
        month,
        base_month,
        min(case when is_closed_month then 1 else 0 end) = 1 as is_closed_month,
        cast(count(*) as bigint) as base_customers,
        sum(base_mrr) as base_mrr,
        cast(sum(case when current_mrr > 0 then 1 else 0 end) as bigint) as retained_customers,
        sum(current_mrr) as retained_mrr,
        sum(case when current_mrr < base_mrr then current_mrr else base_mrr end) as retained_mrr_capped
    from base
    group by month, base_month
)

select
    month,
    base_month,
    is_closed_month,
    base_customers,
    cast(base_mrr as decimal(18, 2)) as base_mrr,
    retained_customers,
    cast(retained_mrr as decimal(18, 2)) as retained_mrr,
    cast(retained_mrr_capped as decimal(18, 2)) as retained_mrr_capped,
    {{ safe_ratio('retained_mrr', 'base_mrr') }} as nrr,
    {{ safe_ratio('retained_mrr_capped', 'base_mrr') }} as grr,
    {{ safe_ratio('retained_customers', 'base_customers') }} as logo_retention
from aggregated
