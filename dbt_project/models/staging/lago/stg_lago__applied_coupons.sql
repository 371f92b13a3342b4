{%- set enums = var('source_enums') -%}
with source as (
    select * from {{ source('lago', 'applied_coupons') }}
),

renamed as (
    select
        {{ nullif_empty('id') }} as applied_coupon_id,
        {{ nullif_empty('coupon_id') }} as coupon_id,
        {{ nullif_empty('customer_id') }} as customer_id,
        {{ enum_name('status', enums['applied_coupon_status']) }} as status,
        {{ cents_to_units('amount_cents', 'amount_currency') }} as amount,
        {{ nullif_empty('amount_currency') }} as currency,
        cast(percentage_rate as decimal(9, 4)) as percentage_rate,
        {{ enum_name('frequency', enums['coupon_frequency']) }} as frequency,
        cast(frequency_duration as integer) as frequency_duration,
        cast(frequency_duration_remaining as integer) as frequency_duration_remaining,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(terminated_at as timestamp) as terminated_at,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
