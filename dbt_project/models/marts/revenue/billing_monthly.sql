{#- One row per month x billing currency: the cash view of METRICS.md (billings by issuing month excluding tax,
    collections by payment date, refunds by credit-note issuing date, failed payments and dunning outcomes), in
    the billing currency and converted to the reporting currency at the month's rate. Internal accounts excluded. -#}

with months as (
    select * from {{ ref('int_revenue__months') }}
),

customers as (
    select customer_id, is_internal from {{ ref('stg_lago__customers') }}
),

invoices as (
    select invoices.*
    from {{ ref('stg_lago__invoices') }} as invoices
    inner join customers on invoices.customer_id = customers.customer_id
    where not customers.is_internal and invoices.status = 'finalized'
),

payments as (
    select payments.*, invoices.currency as invoice_currency
    from {{ ref('stg_lago__payments') }} as payments
    inner join invoices on payments.invoice_id = invoices.invoice_id
),

invoice_payments as (
    select
        invoice_id,
        min(case when payment_status = 'succeeded' then created_at end) as paid_at,
        min(case when payment_status = 'failed' then created_at end) as first_failed_at
    from payments
    group by invoice_id
),

billed as (
    select
        {{ month_start('issuing_date') }} as month,
        currency,
        cast(count(*) as bigint) as invoices_issued,
        sum(sub_total_excluding_taxes_amount) as billings,
        sum(taxes_amount) as taxes
    from invoices
    group by 1, 2
),

collected as (
    select
        {{ month_start('created_at') }} as month,
        coalesce(currency, invoice_currency) as currency,
        sum(case when payment_status = 'succeeded' then amount else 0 end) as collections,
        cast(sum(case when payment_status = 'succeeded' then 1 else 0 end) as bigint) as successful_payments,
        cast(sum(case when payment_status = 'failed' then 1 else 0 end) as bigint) as failed_payment_attempts
    from payments
    group by 1, 2
),

refunded as (
    select
        {{ month_start('credit_notes.issuing_date') }} as month,
        credit_notes.currency,
        sum(coalesce(credit_notes.refund_amount, 0)) as refunds
    from {{ ref('stg_lago__credit_notes') }} as credit_notes
    inner join customers on credit_notes.customer_id = customers.customer_id
    where not customers.is_internal
    group by 1, 2
),

recovered as (
    select
        {{ month_start('invoice_payments.paid_at') }} as month,
        invoices.currency,
        cast(count(*) as bigint) as invoices_recovered,
        sum(invoices.total_amount) as recovered_amount
    from invoice_payments
    inner join invoices on invoice_payments.invoice_id = invoices.invoice_id
    where invoice_payments.first_failed_at < invoice_payments.paid_at
    group by 1, 2
),

-- finalized invoices with an amount due that are past their due date and unpaid at the month-end snapshot
overdue as (
    select
        months.month_start as month,
        invoices.currency,
        cast(count(*) as bigint) as invoices_overdue,
        sum(invoices.total_amount) as overdue_amount
    from invoices
    left join invoice_payments on invoices.invoice_id = invoice_payments.invoice_id
    inner join months
        on invoices.payment_due_date < months.snapshot_date
        and (invoice_payments.paid_at is null or invoice_payments.paid_at >= months.snapshot_before)
    where invoices.total_amount > 0
        -- only invoices still unpaid after their due date can be overdue at a snapshot (prunes the range join)
        and (invoice_payments.paid_at is null or cast(invoice_payments.paid_at as date) > invoices.payment_due_date)
    group by 1, 2
),

keys as (
    select month, currency from billed
    union
    select month, currency from collected
    union
    select month, currency from refunded
    union
    select month, currency from overdue
),

combined as (
    select
        keys.month,
        keys.currency,
        coalesce(billed.invoices_issued, 0) as invoices_issued,
        cast(coalesce(billed.billings, 0) as decimal(18, 2)) as billings,
        cast(coalesce(billed.taxes, 0) as decimal(18, 2)) as taxes,
        cast(coalesce(collected.collections, 0) as decimal(18, 2)) as collections,
        cast(coalesce(refunded.refunds, 0) as decimal(18, 2)) as refunds,
        coalesce(collected.successful_payments, 0) as successful_payments,
        coalesce(collected.failed_payment_attempts, 0) as failed_payment_attempts,
        coalesce(overdue.invoices_overdue, 0) as invoices_overdue,
        cast(coalesce(overdue.overdue_amount, 0) as decimal(18, 2)) as overdue_amount,
        coalesce(recovered.invoices_recovered, 0) as invoices_recovered,
        cast(coalesce(recovered.recovered_amount, 0) as decimal(18, 2)) as recovered_amount
    from keys
    left join billed on keys.month = billed.month and keys.currency = billed.currency
    left join collected on keys.month = collected.month and keys.currency = collected.currency
    left join refunded on keys.month = refunded.month and keys.currency = refunded.currency
    left join recovered on keys.month = recovered.month and keys.currency = recovered.currency
    left join overdue on keys.month = overdue.month and keys.currency = overdue.currency
)

select
    combined.*,
    {{ add_months('combined.month', 1) }} <= {{ as_of_date() }} as is_closed_month,
    fx_rates.reporting_currency,
    fx_rates.rate_to_reporting as fx_rate,
    cast(round(combined.billings * fx_rates.rate_to_reporting, 2) as decimal(18, 2)) as billings_reporting,
    cast(round(combined.taxes * fx_rates.rate_to_reporting, 2) as decimal(18, 2)) as taxes_reporting,
    cast(round(combined.collections * fx_rates.rate_to_reporting, 2) as decimal(18, 2)) as collections_reporting,
    cast(round(combined.refunds * fx_rates.rate_to_reporting, 2) as decimal(18, 2)) as refunds_reporting,
    cast(round(combined.overdue_amount * fx_rates.rate_to_reporting, 2) as decimal(18, 2)) as overdue_amount_reporting,
    cast(round(combined.recovered_amount * fx_rates.rate_to_reporting, 2) as decimal(18, 2))
        as recovered_amount_reporting
from combined
left join {{ ref('int_revenue__fx_rates') }} as fx_rates
    on combined.month = fx_rates.month_start and combined.currency = fx_rates.currency
