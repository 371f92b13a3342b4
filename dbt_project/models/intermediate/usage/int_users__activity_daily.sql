{{ config(materialized='table') }}
{#- One row per user and UTC day with any login event or usage request. A user is active on a day with at least
    one successful login (Keycloak LOGIN) or one usage request (METRICS.md "Users and engagement"). -#}

with login_days as (
    select
        cast(event_at as date) as activity_date,
        user_id,
        cast(sum(case when event_type = 'LOGIN' then 1 else 0 end) as bigint) as logins,
        cast(sum(case when event_type = 'LOGIN_ERROR' then 1 else 0 end) as bigint) as login_errors,
        0 as requests,
        0 as total_tokens
    from {{ ref('stg_keycloak__events') }}
    where user_id is not null
        and event_type in ('LOGIN', 'LOGIN_ERROR')
    group by cast(event_at as date), user_id
),

request_days as (
    select
        usage_date as activity_date,
        user_id,
        0 as logins,
        0 as login_errors,
        requests,
        total_tokens
    from {{ ref('int_usage__user_daily') }}
),

combined as (
    select * from login_days
    union all
    select * from request_days
)

select
    activity_date,
    user_id,
    cast(sum(logins) as bigint) as logins,
    cast(sum(login_errors) as bigint) as login_errors,
    cast(sum(requests) as bigint) as requests,
    cast(sum(total_tokens) as bigint) as total_tokens,
    (sum(logins) > 0 or sum(requests) > 0) as is_active
from combined
group by activity_date, user_id
