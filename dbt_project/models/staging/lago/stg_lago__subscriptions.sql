{%- set enums = var('source_enums') -%}
with source as (
    select * from {{ source('lago', 'subscriptions') }}
),

renamed as (
    select
        {{ nullif_empty('id') }} as subscription_id,
        {{ nullif_empty('external_id') }} as subscription_external_id,
        {{ nullif_empty('customer_id') }} as customer_id,
        {{ nullif_empty('plan_id') }} as plan_id,
        {{ enum_name('status', enums['subscription_status']) }} as status,
        {{ enum_name('billing_time', enums['billing_time']) }} as billing_time,
        cast(subscription_at as timestamp) as subscription_at,
        cast(started_at as timestamp) as started_at,
        cast(trial_ended_at as timestamp) as trial_ended_at,
        cast(ending_at as timestamp) as ending_at,
        cast(terminated_at as timestamp) as terminated_at,
        cast(canceled_at as timestamp) as canceled_at,
        {{ nullif_empty('previous_subscription_id') }} as previous_subscription_id,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
