{#- One row per trial: a subscription on a plan with trial_period_days > 0 that starts a subscription chain
    (no previous_subscription_id: plan changes during a trial continue it rather than start a new one) and whose
    trial really ran (trial end after start).
    Trial start = started_at; trial end = coalesce(trial_ended_at, started_at + trial days).
    Conversion: the first instant >= trial start at which any subscription of the customer is paying (active, out of
    its trial, on a plan with a price > 0), i.e. greatest(started_at, trial end) of that subscription if it is still
    active then. The trial converted when that instant is at most var trial_conversion_days after the trial end
    (METRICS.md "Trial conversion") and not after the as-of date. Coupons and delinquency do not delay conversion. -#}
{{ config(materialized='table') }}

with subscriptions as (
    select * from {{ ref('int_revenue__subscriptions') }}
),

trials as (
    select subscription_id, customer_external_id, plan_code, started_at as trial_started_at, trial_ends_at
    from subscriptions
    -- trial_ended_at = started_at means Lago skipped the trial (e.g. a returning customer): not a trial
    where trial_period_days > 0 and previous_subscription_id is null and trial_ends_at > started_at
),

paying_starts as (
    select
        customer_external_id,
        case
            when trial_ends_at is not null and trial_ends_at > started_at then trial_ends_at
            else started_at
        end as paying_from,
        terminated_at
    from subscriptions
    where plan_amount > 0
),

conversions as (
    select
        trials.subscription_id,
        min(paying_starts.paying_from) as converted_at
    from trials
    inner join paying_starts
        on trials.customer_external_id = paying_starts.customer_external_id
        and paying_starts.paying_from >= trials.trial_started_at
        and (paying_starts.terminated_at is null or paying_starts.terminated_at > paying_starts.paying_from)
    group by trials.subscription_id
)

select
    trials.subscription_id,
    trials.customer_external_id,
    trials.plan_code,
    trials.trial_started_at,
    trials.trial_ends_at,
    trials.trial_ends_at + {{ var('trial_conversion_days') | int }} * interval '1 day' as conversion_deadline_at,
    case
        when conversions.converted_at <= trials.trial_ends_at + {{ var('trial_conversion_days') | int }} * interval '1 day'
            -- a conversion after the data's as-of date has not happened yet (trials still running)
            and conversions.converted_at < cast({{ add_days(as_of_date(), 1) }} as timestamp)
            then conversions.converted_at
    end as converted_at
from trials
left join conversions on trials.subscription_id = conversions.subscription_id
