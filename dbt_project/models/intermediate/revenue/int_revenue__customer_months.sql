{#- Customer x month MRR in the billing currency at the month-end snapshot (metric_rules.md), from the first month
    the customer has a started subscription through the as-of month. All money terms are scaled by 1200
    (12 for the interval normalisation x 100 for percentages) so the arithmetic stays exact until the one final
    division:  mrr * 1200 = (100 - pct) * sum(amount * periods_per_year) - 100 * sum(fixed) * periods_per_year(largest). -#}
{{ config(materialized='table') }}

with months as (
    select * from {{ ref('int_revenue__months') }}
),

subscriptions as (
    select * from {{ ref('int_revenue__subscriptions') }}
),

customers as (
    select customer_external_id, is_internal
    from {{ ref('stg_lago__customers') }}
),

customer_spine as (
    select
        subscriptions.customer_external_id,
        max(subscriptions.currency) as currency,
        {{ month_start('min(subscriptions.started_at)') }} as first_month
    from subscriptions
    group by subscriptions.customer_external_id
),

spine as (
    select
        customer_spine.customer_external_id,
        customer_spine.currency,
        months.month_start,
        months.snapshot_before,
        months.snapshot_date,
        months.is_closed_month
    from customer_spine
    inner join months on months.month_start >= customer_spine.first_month
),

-- subscriptions active at the snapshot: started_at <= t and (terminated_at is null or terminated_at > t)
active_subscriptions as (
    select
        subscriptions.customer_external_id,
        months.month_start,
        subscriptions.subscription_id,
        subscriptions.plan_id,
        subscriptions.plan_code,
        subscriptions.tier,
        subscriptions.billing_interval,
        subscriptions.periods_per_year,
        coalesce(subscriptions.trial_ends_at >= months.snapshot_before, false) as is_in_trial,
        subscriptions.plan_amount * subscriptions.periods_per_year as yearly_amount,
        row_number() over (
            partition by subscriptions.customer_external_id, months.month_start
            order by subscriptions.plan_amount * subscriptions.periods_per_year desc,
                subscriptions.started_at asc, subscriptions.subscription_id asc
        ) as size_rank
    from subscriptions
    inner join months
        on subscriptions.started_at < months.snapshot_before
        and (subscriptions.terminated_at is null or subscriptions.terminated_at >= months.snapshot_before)
),

subscription_totals as (
    select
        customer_external_id,
        month_start,
        count(*) as active_subscriptions,
        sum(case when is_in_trial then 0 else yearly_amount end) as yearly_amount,
        max(case when is_in_trial then 1 else 0 end) = 1 as has_trial,
        max(case when size_rank = 1 then periods_per_year end) as largest_periods_per_year,
        max(case when size_rank = 1 then plan_id end) as plan_id,
        max(case when size_rank = 1 then plan_code end) as plan_code,
        max(case when size_rank = 1 then tier end) as tier,
        max(case when size_rank = 1 then billing_interval end) as billing_interval
    from active_subscriptions
    group by customer_external_id, month_start
),

-- applied coupons active at the snapshot: created_at <= t and (terminated_at is null or terminated_at > t)
coupon_totals as (
    select
        coupons.customer_external_id,
        months.month_start,
        least(100, coalesce(sum(coupons.percentage_rate), 0)) as percentage_rate,
        coalesce(sum(coupons.fixed_amount), 0) as fixed_amount
    from {{ ref('int_revenue__applied_coupons') }} as coupons
    inner join months
        on coupons.created_at < months.snapshot_before
        and (coupons.terminated_at is null or coupons.terminated_at >= months.snapshot_before)
    group by coupons.customer_external_id, months.month_start
),

delinquent as (
    select distinct
        windows.customer_external_id,
        months.month_start
    from {{ ref('int_revenue__delinquency_windows') }} as windows
    inner join months
        on months.snapshot_date >= windows.delinquent_from_date
        and (windows.paid_at is null or windows.paid_at >= months.snapshot_before)
),

scaled as (
    select
        spine.customer_external_id,
        spine.month_start,
        spine.currency,
        spine.is_closed_month,
        coalesce(customers.is_internal, false) as is_internal,
        coalesce(subscription_totals.active_subscriptions, 0) as active_subscriptions,
        coalesce(subscription_totals.has_trial, false) as is_in_trial,
        delinquent.customer_external_id is not null as is_delinquent,
        subscription_totals.plan_id,
        subscription_totals.plan_code,
        subscription_totals.tier,
        subscription_totals.billing_interval,
        coalesce(coupon_totals.percentage_rate, 0) as coupon_percentage_rate,
        coalesce(coupon_totals.fixed_amount, 0) as coupon_fixed_amount,
        (100 - coalesce(coupon_totals.percentage_rate, 0)) * coalesce(subscription_totals.yearly_amount, 0)
        - 100 * coalesce(coupon_totals.fixed_amount, 0) * coalesce(subscription_totals.largest_periods_per_year, 0)
            as mrr_times_1200
    from spine
    left join customers on spine.customer_external_id = customers.customer_external_id
    left join subscription_totals
        on spine.customer_external_id = subscription_totals.customer_external_id
        and spine.month_start = subscription_totals.month_start
    left join coupon_totals
        on spine.customer_external_id = coupon_totals.customer_external_id
        and spine.month_start = coupon_totals.month_start
    left join delinquent
        on spine.customer_external_id = delinquent.customer_external_id
        and spine.month_start = delinquent.month_start
)

select
    customer_external_id,
    month_start,
    currency,
    is_closed_month,
    is_internal,
    active_subscriptions,
    is_in_trial,
    is_delinquent,
    plan_id,
    plan_code,
    tier,
    billing_interval,
    coupon_percentage_rate,
    coupon_fixed_amount,
    cast(
        case
            when is_delinquent or mrr_times_1200 <= 0 then 0
            else round({{ revenue_divide('mrr_times_1200', 1200) }}, 2)
        end
        as decimal(18, 2)
    ) as mrr_billing_currency
from scaled
