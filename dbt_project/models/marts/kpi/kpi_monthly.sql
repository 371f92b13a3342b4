{#- One row per month (closed months and the month to date, flagged): the headline SaaS KPIs of METRICS.md,
    revenue ones from mrr_movements / retention_trailing_12m, engagement from engagement_daily, cost and margin
    from customer_margin_monthly. Simple LTV = ARPA x gross margin (fraction) / the average logo churn rate of
    the last 6 closed months up to this one; NULL when that average is 0. -#}

with movements as (
    select * from {{ ref('mrr_movements') }}
),

months as (
    select month_start, snapshot_date from {{ ref('int_revenue__months') }}
),

retention as (
    select month, nrr, grr from {{ ref('retention_trailing_12m') }}
),

engagement as (
    select
        months.month_start as month,
        max(case when engagement.activity_date = months.snapshot_date then engagement.mau end) as mau,
        avg(engagement.stickiness) as avg_stickiness
    from {{ ref('engagement_daily') }} as engagement
    inner join months
        on engagement.activity_date >= months.month_start
        and engagement.activity_date <= months.snapshot_date
    group by months.month_start
),

margin as (
    select
        month,
        sum(usage_revenue) as usage_revenue,
        sum(usage_cost) as usage_cost,
        sum(gross_margin) as gross_margin,
        sum(mrr + usage_revenue) as total_revenue
    from {{ ref('customer_margin_monthly') }}
    group by month
),

joined as (
    select
        movements.month,
        movements.is_closed_month,
        movements.ending_mrr as mrr,
        movements.arr,
        movements.paying_customers,
        movements.new_customers,
        movements.churned_customers,
        movements.logo_churn_rate,
        retention.nrr as nrr_trailing_12m,
        retention.grr as grr_trailing_12m,
        movements.arpa,
        movements.quick_ratio,
        engagement.mau,
        engagement.avg_stickiness,
        cast(coalesce(margin.usage_revenue, 0) as decimal(18, 2)) as usage_revenue,
        cast(coalesce(margin.usage_cost, 0) as decimal(18, 2)) as usage_cost,
        cast(coalesce(margin.gross_margin, movements.ending_mrr) as decimal(18, 2)) as gross_margin,
        {{ safe_ratio('margin.gross_margin', 'margin.total_revenue') }} as gross_margin_ratio,
        avg(case when movements.is_closed_month then movements.logo_churn_rate end) over (
            order by movements.month rows between 5 preceding and current row
        ) as avg_logo_churn_rate_6m
    from movements
    left join retention on movements.month = retention.month
    left join engagement on movements.month = engagement.month
    left join margin on movements.month = margin.month
)

select
    month,
    is_closed_month,
    mrr,
    arr,
    paying_customers,
    new_customers,
    churned_customers,
    logo_churn_rate,
    nrr_trailing_12m,
    grr_trailing_12m,
    arpa,
    quick_ratio,
    mau,
    avg_stickiness as avg_dau_mau,
    usage_revenue,
    usage_cost,
    gross_margin,
    {{ percent_of('gross_margin', 'mrr + usage_revenue') }} as gross_margin_pct,
    {{ decimal_ratio('usage_cost', 'mau', 2) }} as cost_per_active_user,
    avg_logo_churn_rate_6m,
    case
        when avg_logo_churn_rate_6m > 0 and gross_margin_ratio is not null
            then cast(round(cast(arpa * gross_margin_ratio / avg_logo_churn_rate_6m as decimal(38, 6)), 2)
                as decimal(18, 2))
    end as ltv_simple
from joined
