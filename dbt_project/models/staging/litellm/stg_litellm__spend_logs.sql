with source as (
    select * from {{ source('litellm', 'LiteLLM_SpendLogs') }}
),

renamed as (
    select
        {{ nullif_empty('request_id') }} as request_id,
        {{ nullif_empty('call_type') }} as call_type,
        case
            when call_type in ('acompletion', 'completion') then 'chat'
            when call_type in ('aembedding', 'embedding') then 'embeddings'
            when call_type in ('aimage_generation', 'image_generation') then 'image'
            when call_type in ('atranscription', 'transcription') then 'transcription'
            when call_type in ('aspeech', 'speech') then 'speech'
            else 'other'
        end as service,
        {{ nullif_empty('api_key') }} as api_key,
        cast(spend as float8) as spend,
        cast(prompt_tokens as bigint) as prompt_tokens,
        cast(completion_tokens as bigint) as completion_tokens,
        cast(total_tokens as bigint) as total_tokens,
        -- Prisma's quoted camelCase columns
        cast("startTime" as timestamp) as started_at,
        cast("endTime" as timestamp) as ended_at,
        cast("completionStartTime" as timestamp) as completion_started_at,
        cast(request_duration_ms as bigint) as request_duration_ms,
        {{ nullif_empty('model') }} as model,
        {{ nullif_empty('model_group') }} as model_group,
        {{ nullif_empty('custom_llm_provider') }} as provider,
        {{ nullif_empty('"user"') }} as user_id,
        {{ nullif_empty('end_user') }} as customer_external_id,
        {{ nullif_empty('team_id') }} as team_id,
        {{ nullif_empty('organization_id') }} as organization_id,
        case cache_hit when 'True' then true when 'False' then false end as is_cache_hit,
        {{ nullif_empty('cache_key') }} as cache_key,
        {{ nullif_empty('status') }} as status,
        {{ nullif_empty('status') }} = 'success' as is_success,
        {{ nullif_empty('session_id') }} as session_id,
        {{ nullif_empty('request_tags') }} as request_tags,
        {{ nullif_empty('metadata') }} as metadata,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
