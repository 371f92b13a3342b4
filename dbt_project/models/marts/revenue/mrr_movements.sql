{#- One row per month: the MRR waterfall and the derived revenue metrics of METRICS.md.
    ending_mrr = starting_mrr + new + reactivation + expansion + contraction + churned + fx_adjustment, exactly. -#}

with fct_mrr as (
    select * from {{ ref('fct_mrr') }}
),

monthly as (
    select
        month,
        min(case when is_closed_month then 1 else 0 end) = 1 as is_closed_month,
        sum(previous_mrr) as starting_mrr,
        sum(case when movement_type = 'new' then movement_amount else 0 end) as new_mrr,
        sum(case when movement_type = 'reactivation' then movement_amount else 0 end) as reactivation_mrr,
        sum(case when movement_type = 'expansion' then movement_amount else 0 end) as expansion_mrr,
        sum(case when movement_type = 'contraction' then movement_amount else 0 end) as contraction_mrr,
        sum(case when movement_type = 'churn' then movement_amount else 0 end) as churned_mrr,
        sum(fx_adjustment) as fx_adjustment,
        sum(mrr) as ending_mrr,
        cast(sum(case when movement_type = 'new' then 1 else 0 end) as bigint) as new_customers,
        cast(sum(case when movement_type = 'reactivation' then 1 else 0 end) as bigint) as reactivated_customers,
        cast(sum(case when movement_type = 'expansion' then 1 else 0 end) as bigint) as expansion_customers,
        cast(sum(case when movement_type = 'contraction' then 1 else 0 end) as bigint) as contraction_customers,
        cast(sum(case when movement_type = 'churn' then 1 else 0 end) as bigint) as churned_customers,
        cast(sum(case when previous_mrr > 0 then 1 else 0 end) as bigint) as starting_paying_customers,
        cast(sum(case when is_paying then 1 else 0 end) as bigint) as paying_customers
    from fct_mrr
    group by month
)

select
    month,
    is_closed_month,
    cast(starting_mrr as decimal(18, 2)) as starting_mrr,
    cast(new_mrr as decimal(18, 2)) as new_mrr,
    cast(reactivation_mrr as decimal(18, 2)) as reactivation_mrr,
    cast(expansion_mrr as decimal(18, 2)) as expansion_mrr,
    cast(contraction_mrr as decimal(18, 2)) as contraction_mrr,
    cast(churned_mrr as decimal(18, 2)) as churned_mrr,
    cast(fx_adjustment as decimal(18, 2)) as fx_adjustment,
    cast(ending_mrr as decimal(18, 2)) as ending_mrr,
    cast(new_mrr + reactivation_mrr + expansion_mrr + contraction_mrr + churned_mrr as decimal(18, 2))
        as net_new_mrr,
    new_customers,
    reactivated_customers,
    expansion_customers,
    contraction_customers,
    churned_customers,
    starting_paying_customers,
    paying_customers,
    cast(ending_mrr * 12 as decimal(18, 2)) as arr,
    cast(round({{ revenue_divide('ending_mrr', 'paying_customers') }}, 2) as decimal(18, 2)) as arpa,
    {{ safe_ratio('churned_customers', 'starting_paying_customers') }} as logo_churn_rate,
    {{ safe_ratio('-(churned_mrr + contraction_mrr)', 'starting_mrr') }} as gross_revenue_churn_rate,
    {{ safe_ratio('-(churned_mrr + contraction_mrr + expansion_mrr + reactivation_mrr)', 'starting_mrr') }}
        as net_revenue_churn_rate,
    {{ safe_ratio('new_mrr + reactivation_mrr + expansion_mrr', '-(churned_mrr + contraction_mrr)') }} as quick_ratio,
    {{ safe_ratio('ending_mrr - starting_mrr', 'starting_mrr') }} as mrr_growth_rate
from monthly
