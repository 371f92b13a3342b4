{%- set enums = var('source_enums') -%}
with source as (
    select * from {{ source('lago', 'invoices') }}
),

renamed as (
    select
        {{ nullif_empty('id') }} as invoice_id,
        {{ nullif_empty('customer_id') }} as customer_id,
        {{ nullif_empty('number') }} as invoice_number,
        cast(issuing_date as date) as issuing_date,
        cast(payment_due_date as date) as payment_due_date,
        {{ enum_name('status', enums['invoice_status']) }} as status,
        {{ enum_name('payment_status', enums['invoice_payment_status']) }} as payment_status,
        {{ enum_name('invoice_type', enums['invoice_type']) }} as invoice_type,
        {{ nullif_empty('currency') }} as currency,
        {{ cents_to_units('fees_amount_cents', 'currency') }} as fees_amount,
        {{ cents_to_units('coupons_amount_cents', 'currency') }} as coupons_amount,
        {{ cents_to_units('taxes_amount_cents', 'currency') }} as taxes_amount,
        {{ cents_to_units('sub_total_excluding_taxes_amount_cents', 'currency') }} as sub_total_excluding_taxes_amount,
        {{ cents_to_units('total_amount_cents', 'currency') }} as total_amount,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
