{#- One row per coupon applied to a billing customer, active on [created_at, terminated_at)
    (Lago terminates an applied coupon when its duration is used up; metric_rules.md "Coupons"). -#}
{{ config(materialized='table') }}

with applied_coupons as (
    select * from {{ ref('stg_lago__applied_coupons') }}
),

coupons as (
    select * from {{ ref('stg_lago__coupons') }}
),

customers as (
    select * from {{ ref('stg_lago__customers') }}
)

select
    applied_coupons.applied_coupon_id,
    customers.customer_external_id,
    coupons.coupon_code,
    coupons.coupon_type,
    case when coupons.coupon_type = 'percentage' then coalesce(applied_coupons.percentage_rate, coupons.percentage_rate) end
        as percentage_rate,
    case when coupons.coupon_type = 'fixed_amount' then coalesce(applied_coupons.amount, coupons.amount) end
        as fixed_amount,
    applied_coupons.created_at,
    applied_coupons.terminated_at
from applied_coupons
inner join coupons on applied_coupons.coupon_id = coupons.coupon_id
inner join customers on applied_coupons.customer_id = customers.customer_id
