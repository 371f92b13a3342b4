{%- set enums = var('source_enums') -%}
with source as (
    select * from {{ source('lago', 'coupons') }}
),

renamed as (
    select
        {{ nullif_empty('id') }} as coupon_id,
        {{ nullif_empty('code') }} as coupon_code,
        {{ nullif_empty('name') }} as coupon_name,
        {{ enum_name('coupon_type', enums['coupon_type']) }} as coupon_type,
        {{ cents_to_units('amount_cents', 'amount_currency') }} as amount,
        {{ nullif_empty('amount_currency') }} as currency,
        cast(percentage_rate as decimal(9, 4)) as percentage_rate,
        {{ enum_name('frequency', enums['coupon_frequency']) }} as frequency,
        cast(frequency_duration as integer) as frequency_duration,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(deleted_at as timestamp) as deleted_at,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
