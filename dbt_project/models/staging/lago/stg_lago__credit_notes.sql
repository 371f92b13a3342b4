{%- set enums = var('source_enums') -%}
with source as (
    select * from {{ source('lago', 'credit_notes') }}
),

renamed as (
    select
        {{ nullif_empty('id') }} as credit_note_id,
        {{ nullif_empty('invoice_id') }} as invoice_id,
        {{ nullif_empty('customer_id') }} as customer_id,
        {{ nullif_empty('number') }} as credit_note_number,
        cast(issuing_date as date) as issuing_date,
        {{ enum_name('reason', enums['credit_note_reason']) }} as reason,
        {{ nullif_empty('total_amount_currency') }} as currency,
        {{ cents_to_units('credit_amount_cents', 'total_amount_currency') }} as credit_amount,
        {{ cents_to_units('refund_amount_cents', 'total_amount_currency') }} as refund_amount,
        {{ cents_to_units('total_amount_cents', 'total_amount_currency') }} as total_amount,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
