{{ config(materialized='table') }}
{#- One row per user and UTC day with any login event or usage request. A user is active on a day with at least
    one successful login (Keycloak LOGIN) or one usage request (METRICS.md "Users and engagement"). -#}

with login_days as (
    select
        cast(event_at as date) as activity_date,
        user_id,
        cast(sum(case when event_type = 'LOGIN' then 1 else 0 end) as bigint) as logins,
        cast(sum(case when event_type = 'LOGIN_ERROR' then 1 else 0 end) as bigint) as login_errors
    from {{ ref('stg_keycloak__events') }}
    where user_id is not null
        and event_type in ('LOGIN', 'LOGIN_ERROR')
    group by cast(event_at as date), user_id
)

-- both sides have one row per day and user: a full join, not a re-aggregation of their union
select
    coalesce(login_days.activity_date, request_days.usage_date) as activity_date,
    coalesce(login_days.user_id, request_days.user_id) as user_id,
    coalesce(login_days.logins, 0) as logins,
    coalesce(login_days.login_errors, 0) as login_errors,
    cast(coalesce(request_days.requests, 0) as bigint) as requests,
    cast(coalesce(request_days.total_tokens, 0) as bigint) as total_tokens,
    (coalesce(login_days.logins, 0) > 0 or coalesce(request_days.requests, 0) > 0) as is_active
from login_days
full outer join {{ ref('int_usage__user_daily') }} as request_days
    on login_days.activity_date = request_days.usage_date
    and login_days.user_id = request_days.user_id
