{#- One row per finalized invoice with an amount due that ever makes its customer delinquent: unpaid more than
    var delinquency_churn_days days after its due date (metric_rules.md "Delinquency"). The customer is delinquent
    at snapshot t when  date(t) >= delinquent_from_date  and  (paid_at is null or paid_at > t). -#}
{{ config(materialized='table') }}

with invoices as (
    select * from {{ ref('stg_lago__invoices') }}
    where status = 'finalized' and total_amount > 0 and payment_due_date is not null
),

first_success as (
    select invoice_id, min(created_at) as paid_at
    from {{ ref('stg_lago__payments') }}
    where payment_status = 'succeeded'
    group by invoice_id
),

customers as (
    select * from {{ ref('stg_lago__customers') }}
),

windows as (
    select
        invoices.invoice_id,
        customers.customer_external_id,
        invoices.payment_due_date,
        -- payment_due_date + N < date(t)  <=>  date(t) >= payment_due_date + N + 1
        {{ add_days('invoices.payment_due_date', var('delinquency_churn_days') | int + 1) }} as delinquent_from_date,
        first_success.paid_at
    from invoices
    inner join customers on invoices.customer_id = customers.customer_id
    left join first_success on invoices.invoice_id = first_success.invoice_id
)

select *
from windows
-- paid before the first day it could count: never delinquent at any snapshot
where paid_at is null or paid_at >= cast({{ add_days('delinquent_from_date', 1) }} as timestamp)
