with source as (
    select * from {{ source('lago', 'invoice_subscriptions') }}
),

renamed as (
    select
        {{ nullif_empty('id') }} as invoice_subscription_id,
        {{ nullif_empty('invoice_id') }} as invoice_id,
        {{ nullif_empty('subscription_id') }} as subscription_id,
        cast(from_datetime as timestamp) as from_datetime,
        cast(to_datetime as timestamp) as to_datetime,
        cast(charges_from_datetime as timestamp) as charges_from_datetime,
        cast(charges_to_datetime as timestamp) as charges_to_datetime,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
