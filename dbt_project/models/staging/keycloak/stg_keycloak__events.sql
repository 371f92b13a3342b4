with source as (
    select * from {{ source('keycloak', 'event_entity') }}
),

renamed as (
    select
        {{ nullif_empty('id') }} as event_id,
        {{ nullif_empty('type') }} as event_type,
        {{ epoch_ms_to_timestamp('event_time') }} as event_at,
        {{ nullif_empty('user_id') }} as user_id,
        {{ nullif_empty('session_id') }} as session_id,
        {{ nullif_empty('ip_address') }} as ip_address,
        {{ nullif_empty('client_id') }} as client_id,
        {{ nullif_empty('realm_id') }} as realm_id,
        {{ nullif_empty('error') }} as error,
        {{ nullif_empty('details_json') }} as details_json,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
