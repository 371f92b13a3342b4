{%- set enums = var('source_enums') -%}
with source as (
    select * from {{ source('lago', 'fees') }}
),

renamed as (
    select
        {{ nullif_empty('id') }} as fee_id,
        {{ nullif_empty('invoice_id') }} as invoice_id,
        {{ nullif_empty('subscription_id') }} as subscription_id,
        {{ nullif_empty('charge_id') }} as charge_id,
        {{ enum_name('fee_type', enums['fee_type']) }} as fee_type,
        {{ cents_to_units('amount_cents', 'amount_currency') }} as amount,
        {{ nullif_empty('amount_currency') }} as currency,
        {{ cents_to_units('taxes_amount_cents', 'amount_currency') }} as taxes_amount,
        cast(units as decimal(20, 6)) as units,
        {{ enum_name('payment_status', enums['fee_payment_status']) }} as payment_status,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(deleted_at as timestamp) as deleted_at,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
