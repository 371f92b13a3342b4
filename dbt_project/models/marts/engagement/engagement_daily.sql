{#- One row per UTC day from the first user activity or signup to the data's as-of date: DAU, WAU, MAU,
    stickiness, new users, logins and login errors of external users (METRICS.md "Users and engagement").
    WAU/MAU are exact distinct counts over the trailing 7/30 days, computed without a days x users join: each
    active day of a user covers the next N days up to (not including) the user's next active day, so a user's
    covered ranges never overlap and a running sum of +1/-1 events counts distinct users. -#}

with external_users as (
    select user_id, signup_date from {{ ref('dim_users') }} where not is_internal
),

activity as (
    select activity_date, user_id, is_active, logins, login_errors, requests
    from {{ ref('int_users__activity_daily') }}
    where activity_date <= {{ as_of_date() }}
        and user_id in (select user_id from external_users)
),

active_days as (
    select
        user_id,
        activity_date,
        lead(activity_date) over (partition by user_id order by activity_date) as next_active_date
    from activity
    where is_active
),

coverage_ends as (
    select
        {%- for window_name, window_days in [('wau', 7), ('mau', 30)] %}
        case
            when next_active_date is not null and next_active_date < {{ add_days('activity_date', window_days) }}
                then next_active_date
            else {{ add_days('activity_date', window_days) }}
        end as {{ window_name }}_end_date{{ ',' if not loop.last }}
        {%- endfor %}
    from active_days
),

-- +1 per active day on that day, -1 where its coverage ends, counted per day before they are combined
daily_deltas as (
    select event_date, sum(wau_delta) as wau_delta, sum(mau_delta) as mau_delta
    from (
        select activity_date as event_date, count(*) as wau_delta, count(*) as mau_delta
        from active_days
        group by activity_date
        union all
        select wau_end_date, -count(*), 0
        from coverage_ends
        group by wau_end_date
        union all
        select mau_end_date, 0, -count(*)
        from coverage_ends
        group by mau_end_date
    ) as deltas
    group by event_date
),

daily_activity as (
    select
        activity_date,
        cast(sum(case when is_active then 1 else 0 end) as bigint) as dau,
        cast(sum(logins) as bigint) as logins,
        cast(sum(login_errors) as bigint) as login_errors,
        cast(sum(requests) as bigint) as requests
    from activity
    group by activity_date
),

signups as (
    select signup_date, count(*) as new_users
    from external_users
    group by signup_date
),

bounds as (
    select least(
        (select min(activity_date) from daily_activity),
        (select min(signup_date) from external_users)
    ) as first_date
),

days as (
    select cast(series.series_value as date) as activity_date
    from bounds
    cross join lateral generate_series(
        cast(bounds.first_date as timestamp), cast({{ as_of_date() }} as timestamp), interval '1 day'
    ) as series (series_value)
),

counted as (
    select
        days.activity_date,
        coalesce(daily_activity.dau, 0) as dau,
        sum(coalesce(daily_deltas.wau_delta, 0)) over running_total as wau,
        sum(coalesce(daily_deltas.mau_delta, 0)) over running_total as mau,
        coalesce(signups.new_users, 0) as new_users,
        coalesce(daily_activity.logins, 0) as logins,
        coalesce(daily_activity.login_errors, 0) as login_errors,
        coalesce(daily_activity.requests, 0) as requests
    from days
    left join daily_activity on days.activity_date = daily_activity.activity_date
    left join daily_deltas on days.activity_date = daily_deltas.event_date
    left join signups on days.activity_date = signups.signup_date
    window running_total as (order by days.activity_date rows between unbounded preceding and current row)
)

select
    activity_date,
    dau,
    cast(wau as bigint) as wau,
    cast(mau as bigint) as mau,
    {{ safe_ratio('dau', 'mau') }} as stickiness,
    new_users,
    logins,
    login_errors,
    requests
from counted
