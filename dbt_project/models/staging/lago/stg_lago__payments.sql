with source as (
    select * from {{ source('lago', 'payments') }}
),

renamed as (
    select
        {{ nullif_empty('id') }} as payment_id,
        {{ nullif_empty('invoice_id') }} as invoice_id,
        {{ cents_to_units('amount_cents', 'amount_currency') }} as amount,
        {{ nullif_empty('amount_currency') }} as currency,
        {{ nullif_empty('payable_payment_status') }} as payment_status,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at
    from source
)

select * from renamed
