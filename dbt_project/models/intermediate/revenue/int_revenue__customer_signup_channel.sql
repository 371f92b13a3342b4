{#- One row per billing customer (customers.external_id) that has a Keycloak user: the signup_channel attribute of
    its earliest user (by user creation time, then user id), users linked through the customer_external_id
    attribute. Users (and attributes) deleted in Keycloak are left out: a from-scratch extract cannot see them, and
    keeping them would make the result depend on the extraction history. -#}
{{ config(materialized='table') }}

with attributes as (
    select user_id, attribute_name, attribute_value
    from {{ ref('stg_keycloak__user_attributes') }}
    where attribute_name in ('customer_external_id', 'signup_channel') and deleted_at is null
),

user_customers as (
    select
        users.user_id,
        users.created_at,
        max(case when attributes.attribute_name = 'customer_external_id' then attributes.attribute_value end)
            as customer_external_id,
        max(case when attributes.attribute_name = 'signup_channel' then attributes.attribute_value end)
            as signup_channel
    from {{ ref('stg_keycloak__users') }} as users
    inner join attributes on users.user_id = attributes.user_id
    where users.deleted_at is null
    group by users.user_id, users.created_at
),

ranked as (
    select
        *,
        row_number() over (partition by customer_external_id order by created_at asc, user_id asc) as user_rank
    from user_customers
    where customer_external_id is not null
)

select
    customer_external_id,
    user_id as first_user_id,
    created_at as first_user_created_at,
    signup_channel
from ranked
where user_rank = 1
