{#- One row per Keycloak user (service accounts excluded), internal users kept and flagged. The customer link,
    role and signup channel are Keycloak user attributes; activity comes from logins and usage requests. -#}

with users as (
    select * from {{ ref('stg_keycloak__users') }}
    where not coalesce(is_service_account, false)
),

-- current attribute values, else the last seen ones: a deleted user keeps its customer link (history stays put)
attributes as (
    {%- set names = {'customer_external_id': 'customer_id', 'role': 'role', 'signup_channel': 'signup_channel'} %}
    select
        user_id,
        {%- for name, alias in names.items() %}
        coalesce(
            max(case when attribute_name = '{{ name }}' and deleted_at is null then attribute_value end),
            max(case when attribute_name = '{{ name }}' then attribute_value end)
        ) as {{ alias }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_keycloak__user_attributes') }}
    group by user_id
),

internal_customers as (
    select customer_external_id
    from {{ ref('stg_lago__customers') }}
    group by customer_external_id
    having bool_or(is_internal)
),

activity as (
    select
        user_id,
        min(case when is_active then activity_date end) as first_active_date,
        max(case when is_active then activity_date end) as last_active_date,
        cast(sum(case when is_active then 1 else 0 end) as bigint) as active_days,
        cast(sum(logins) as bigint) as lifetime_logins,
        cast(sum(requests) as bigint) as lifetime_requests,
        cast(sum(total_tokens) as bigint) as lifetime_tokens
    from {{ ref('int_users__activity_daily') }}
    group by user_id
)

select
    users.user_id,
    attributes.customer_id,
    attributes.role,
    users.email_domain,
    users.created_at as signup_at,
    cast(users.created_at as date) as signup_date,
    coalesce(attributes.signup_channel, 'unknown') as signup_channel,
    activity.first_active_date,
    activity.last_active_date,
    coalesce(activity.active_days, 0) as active_days,
    coalesce(activity.lifetime_logins, 0) as lifetime_logins,
    coalesce(activity.lifetime_requests, 0) as lifetime_requests,
    coalesce(activity.lifetime_tokens, 0) as lifetime_tokens,
    coalesce(users.is_enabled, true) as is_enabled,
    coalesce(users.is_deleted, false) as is_deleted,
    users.deleted_at,
    (coalesce(users.is_internal, false) or internal_customers.customer_external_id is not null) as is_internal
from users
left join attributes on users.user_id = attributes.user_id
left join internal_customers on attributes.customer_id = internal_customers.customer_external_id
left join activity on users.user_id = activity.user_id
