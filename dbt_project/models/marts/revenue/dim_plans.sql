{#- One row per Lago plan (plan code), with its price in the plan currency and monthly-normalised
    (METRICS.md "MRR": monthly x1, quarterly /3, semiannual /6, yearly /12, weekly x52/12). -#}

with plans as (
    select * from {{ ref('stg_lago__plans') }}
),

token_quotas as (
    select
        charges.plan_id,
        sum(coalesce(charges.free_units, 0)) as included_token_quota
    from {{ ref('stg_lago__charges') }} as charges
    inner join {{ ref('stg_lago__billable_metrics') }} as metrics
        on charges.billable_metric_id = metrics.billable_metric_id
    where charges.deleted_at is null
        and lower(metrics.billable_metric_code) like '%token%'
    group by charges.plan_id
)

select
    plans.plan_code,
    plans.plan_id,
    plans.plan_name,
    plans.tier,
    plans.billing_interval,
    plans.currency,
    plans.amount as price,
    cast(
        round({{ revenue_divide('plans.amount * ' ~ periods_per_year('plans.billing_interval'), 12) }}, 2)
        as decimal(18, 2)
    ) as monthly_price,
    cast(coalesce(token_quotas.included_token_quota, 0) as bigint) as included_token_quota,
    coalesce(plans.trial_period_days, 0) as trial_days,
    plans.amount = 0 as is_free,
    plans.deleted_at is not null as is_deleted
from plans
left join token_quotas on plans.plan_id = token_quotas.plan_id
