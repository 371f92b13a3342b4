with source as (
    select * from {{ source('keycloak', 'user_attribute') }}
),

renamed as (
    select
        {{ nullif_empty('id') }} as user_attribute_id,
        {{ nullif_empty('user_id') }} as user_id,
        {{ nullif_empty('name') }} as attribute_name,
        {{ nullif_empty('value') }} as attribute_value,
        cast(_deleted_at as timestamp) as deleted_at,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
