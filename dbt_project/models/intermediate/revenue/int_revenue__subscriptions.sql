{#- One row per Lago subscription that has started (pending rows have no started_at and never count), with its
    billing customer (customers.external_id), plan price and trial window (metric_rules.md). -#}
{{ config(materialized='table') }}

with subscriptions as (
    select * from {{ ref('stg_lago__subscriptions') }}
    where started_at is not null
),

plans as (
    select * from {{ ref('stg_lago__plans') }}
),

customers as (
    select * from {{ ref('stg_lago__customers') }}
)

select
    subscriptions.subscription_id,
    subscriptions.subscription_external_id,
    subscriptions.previous_subscription_id,
    customers.customer_external_id,
    subscriptions.plan_id,
    plans.plan_code,
    plans.tier,
    plans.billing_interval,
    plans.amount as plan_amount,
    coalesce(customers.currency, plans.currency) as currency,
    {{ periods_per_year('plans.billing_interval') }} as periods_per_year,
    coalesce(plans.trial_period_days, 0) as trial_period_days,
    subscriptions.started_at,
    subscriptions.terminated_at,
    -- in trial while t < trial end (metric_rules.md); NULL when the plan has no trial
    case
        when coalesce(plans.trial_period_days, 0) > 0
            then coalesce(
                subscriptions.trial_ended_at,
                subscriptions.started_at + plans.trial_period_days * interval '1 day'
            )
    end as trial_ends_at
from subscriptions
inner join customers on subscriptions.customer_id = customers.customer_id
inner join plans on subscriptions.plan_id = plans.plan_id
