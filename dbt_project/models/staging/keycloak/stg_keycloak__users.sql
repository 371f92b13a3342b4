with source as (
    select * from {{ source('keycloak', 'user_entity') }}
),

renamed as (
    select
        {{ nullif_empty('id') }} as user_id,
        {{ nullif_empty('username') }} as username,
        {{ nullif_empty('email') }} as email,
        {{ email_domain('email') }} as email_domain,
        cast(email_verified as boolean) as is_email_verified,
        cast(enabled as boolean) as is_enabled,
        {{ nullif_empty('first_name') }} as first_name,
        {{ nullif_empty('last_name') }} as last_name,
        {{ epoch_ms_to_timestamp('created_timestamp') }} as created_at,
        {{ nullif_empty('realm_id') }} as realm_id,
        {{ nullif_empty('service_account_client_link') }} is not null as is_service_account,
        {{ is_internal_domain(email_domain('email')) }} as is_internal,
        -- Keycloak deletes are hard: the snapshot diff records when the user vanished
        cast(_deleted_at as timestamp) as deleted_at,
        _deleted_at is not null as is_deleted,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
