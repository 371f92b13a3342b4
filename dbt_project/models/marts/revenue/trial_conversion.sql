{#- One row per trial-start month x signup channel, plus one row per month with signup_channel = 'all'
    (METRICS.md "Trial conversion"; conversion rule in int_revenue__trials). Internal accounts excluded. -#}

with trials as (
    select * from {{ ref('int_revenue__trials') }}
),

customers as (
    select customer_external_id, is_internal from {{ ref('stg_lago__customers') }}
),

channels as (
    select customer_external_id, signup_channel from {{ ref('int_revenue__customer_signup_channel') }}
),

enriched as (
    select
        {{ month_start('trials.trial_started_at') }} as trial_month,
        coalesce(channels.signup_channel, 'unknown') as signup_channel,
        trials.converted_at is not null as is_converted,
        -- window still open at the as-of date: not converted yet, but it still may
        trials.converted_at is null
        and trials.conversion_deadline_at >= cast({{ add_days(as_of_date(), 1) }} as timestamp) as is_pending,
        case
            when trials.converted_at is not null
                then {{ days_between('trials.trial_started_at', 'trials.converted_at') }}
        end as days_to_convert
    from trials
    inner join customers on trials.customer_external_id = customers.customer_external_id
    left join channels on trials.customer_external_id = channels.customer_external_id
    where not customers.is_internal
),

by_channel as (
    select
        trial_month,
        signup_channel,
        cast(count(*) as bigint) as trials_started,
        cast(sum(case when is_converted then 1 else 0 end) as bigint) as trials_converted,
        cast(sum(case when is_pending then 1 else 0 end) as bigint) as trials_pending,
        percentile_cont(0.5) within group (order by days_to_convert) as median_days_to_convert
    from enriched
    group by trial_month, signup_channel
),

all_channels as (
    select
        trial_month,
        'all' as signup_channel,
        cast(count(*) as bigint) as trials_started,
        cast(sum(case when is_converted then 1 else 0 end) as bigint) as trials_converted,
        cast(sum(case when is_pending then 1 else 0 end) as bigint) as trials_pending,
        percentile_cont(0.5) within group (order by days_to_convert) as median_days_to_convert
    from enriched
    group by trial_month
),

unioned as (
    select * from by_channel
    union all
    select * from all_channels
)

select
    unioned.trial_month,
    unioned.signup_channel,
    {{ add_months('unioned.trial_month', 1) }} <= {{ as_of_date() }} as is_closed_month,
    unioned.trials_started,
    unioned.trials_converted,
    unioned.trials_pending,
    {{ safe_ratio('unioned.trials_converted', 'unioned.trials_started') }} as conversion_rate,
    cast(unioned.median_days_to_convert as double precision) as median_days_to_convert
from unioned
