{%- set enums = var('source_enums') -%}
with source as (
    select * from {{ source('lago', 'billable_metrics') }}
),

renamed as (
    select
        {{ nullif_empty('id') }} as billable_metric_id,
        {{ nullif_empty('code') }} as billable_metric_code,
        {{ nullif_empty('name') }} as billable_metric_name,
        {{ enum_name('aggregation_type', enums['aggregation_type']) }} as aggregation_type,
        {{ nullif_empty('field_name') }} as field_name,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(deleted_at as timestamp) as deleted_at,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
