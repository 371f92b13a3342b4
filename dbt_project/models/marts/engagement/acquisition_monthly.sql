{#- Month x signup channel: new users, new customers (first month with MRR > 0), trials started and those trials
    that converted, external accounts only. A customer's channel is the signup channel of its earliest user
    (int_revenue__customer_signup_channel); trials and their conversion rule are int_revenue__trials (the same
    ones trial_conversion reports), counted in the month the trial started. -#}

with users as (
    select * from {{ ref('dim_users') }} where not is_internal
),

channels as (
    select customer_external_id, signup_channel from {{ ref('int_revenue__customer_signup_channel') }}
),

external_customers as (
    select customer_external_id
    from {{ ref('stg_lago__customers') }}
    group by customer_external_id
    having not bool_or(is_internal)
),

events as (
    select
        {{ month_start('signup_date') }} as month,
        signup_channel,
        1 as new_users,
        0 as new_customers,
        0 as trials_started,
        0 as trial_conversions
    from users
    union all
    select fct_mrr.month, coalesce(channels.signup_channel, 'unknown'), 0, 1, 0, 0
    from {{ ref('fct_mrr') }} as fct_mrr
    left join channels on fct_mrr.customer_id = channels.customer_external_id
    where fct_mrr.movement_type = 'new'
    union all
    select
        {{ month_start('trials.trial_started_at') }},
        coalesce(channels.signup_channel, 'unknown'),
        0,
        0,
        1,
        -- a conversion counts once it has happened by the data's as-of date
        case
            when trials.converted_at < cast({{ add_days(as_of_date(), 1) }} as timestamp) then 1
            else 0
        end
    from {{ ref('int_revenue__trials') }} as trials
    inner join external_customers on trials.customer_external_id = external_customers.customer_external_id
    left join channels on trials.customer_external_id = channels.customer_external_id
)

select
    month,
    signup_channel,
    cast(sum(new_users) as bigint) as new_users,
    cast(sum(new_customers) as bigint) as new_customers,
    cast(sum(trials_started) as bigint) as trials_started,
    cast(sum(trial_conversions) as bigint) as trial_conversions,
    {{ safe_ratio('sum(trial_conversions)', 'sum(trials_started)') }} as trial_conversion_rate,
    month < {{ month_start(as_of_date()) }} as is_closed_month
from events
where month <= {{ as_of_date() }}
group by month, signup_channel
