{%- set enums = var('source_enums') -%}
with source as (
    select * from {{ source('lago', 'plans') }}
),

renamed as (
    select
        {{ nullif_empty('id') }} as plan_id,
        {{ nullif_empty('code') }} as plan_code,
        {{ nullif_empty('name') }} as plan_name,
        split_part({{ nullif_empty('code') }}, '_', 1) as tier,
        {{ enum_name('"interval"', enums['plan_interval']) }} as billing_interval,
        -- months per billing interval; weekly is 12/52 (monthly-normalised price = amount * 52 / 12)
        cast(
            case "interval"
                when 0 then 12.0 / 52
                when 1 then 1
                when 2 then 12
                when 3 then 3
                when 4 then 6
            end
            as decimal(20, 10)
        ) as interval_months,
        {{ cents_to_units('amount_cents', 'amount_currency') }} as amount,
        {{ nullif_empty('amount_currency') }} as currency,
        cast(trial_period as integer) as trial_period_days,
        cast(pay_in_advance as boolean) as pay_in_advance,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(deleted_at as timestamp) as deleted_at,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
