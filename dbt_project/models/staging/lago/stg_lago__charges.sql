{%- set enums = var('source_enums') -%}
with source as (
    select * from {{ source('lago', 'charges') }}
),

renamed as (
    select
        {{ nullif_empty('id') }} as charge_id,
        {{ nullif_empty('plan_id') }} as plan_id,
        {{ nullif_empty('billable_metric_id') }} as billable_metric_id,
        {{ enum_name('charge_model', enums['charge_model']) }} as charge_model,
        -- Lago stores package pricing in the properties json, already in currency units (as text)
        cast({{ json_text('properties', 'amount') }} as decimal(18, 2)) as package_amount,
        cast({{ json_text('properties', 'free_units') }} as bigint) as free_units,
        cast({{ json_text('properties', 'package_size') }} as bigint) as package_size,
        {{ nullif_empty('properties') }} as properties,
        cast(pay_in_advance as boolean) as pay_in_advance,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(deleted_at as timestamp) as deleted_at,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
