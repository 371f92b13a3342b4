with source as (
    select * from {{ source('lago', 'customers') }}
),

renamed as (
    select
        {{ nullif_empty('id') }} as customer_id,
        {{ nullif_empty('external_id') }} as customer_external_id,
        {{ nullif_empty('name') }} as customer_name,
        {{ nullif_empty('email') }} as email,
        {{ email_domain('email') }} as email_domain,
        {{ nullif_empty('country') }} as country,
        {{ nullif_empty('currency') }} as currency,
        {{ nullif_empty('timezone') }} as timezone,
        {{ nullif_empty('customer_type') }} as customer_type,
        cast(net_payment_term as integer) as net_payment_term,
        {{ is_internal_domain(email_domain('email')) }} as is_internal,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(deleted_at as timestamp) as deleted_at,
        deleted_at is not null as is_deleted,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
