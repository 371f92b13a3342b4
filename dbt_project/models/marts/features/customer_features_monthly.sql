{#- One row per external customer paying (MRR > 0) at the end of a closed month M: the churn model's features,
    each computed only from data stamped at or before the snapshot (the last day of M), and the label
    churned_next_month = the customer has a churn movement in M+1 (NULL while M+1 is not closed).
    Windows "last N days" are the N days ending on the snapshot day; "prev 30 days" are the 30 before those.
    Daily rows are matched to the (at most 3) month-end snapshots within 60 days after them by an equi-join on
    the snapshot month, so no range join over customers x months is needed. -#}

with months as (
    select month_start, snapshot_before, snapshot_date, is_closed_month from {{ ref('int_revenue__months') }}
),

mrr as (
    select * from {{ ref('fct_mrr') }}
),

snapshots as (
    select
        mrr.customer_id,
        mrr.month as snapshot_month,
        months.snapshot_date,
        months.snapshot_before,
        mrr.mrr,
        mrr.plan_code,
        mrr.tier,
        mrr.billing_interval,
        mrr.cohort_month
    from mrr
    inner join months on mrr.month = months.month_start
    where mrr.is_paying and months.is_closed_month
),

offsets as (
    select 0 as month_offset
    union all
    select 1
    union all
    select 2
),

usage_daily as (
    select
        customer_id,
        usage_date,
        sum(requests) as requests,
        sum(failed_requests) as failed_requests,
        sum(total_tokens) as total_tokens,
        sum(cost_usd) as cost_usd
    from {{ ref('fct_usage_daily') }}
    where customer_id is not null
    group by customer_id, usage_date
),

usage_windows as (
    select
        usage_daily.customer_id,
        {{ add_months(month_start('usage_daily.usage_date'), 'offsets.month_offset') }} as snapshot_month,
        {{ days_between('usage_daily.usage_date', month_end(add_months(month_start('usage_daily.usage_date'), 'offsets.month_offset'))) }}
            as days_before,
        usage_daily.requests,
        usage_daily.failed_requests,
        usage_daily.total_tokens,
        usage_daily.cost_usd
    from usage_daily
    cross join offsets
),

usage_features as (
    select
        customer_id,
        snapshot_month,
        sum(case when days_before < 30 then requests else 0 end) as requests_30d,
        sum(case when days_before >= 30 then requests else 0 end) as requests_prev_30d,
        sum(case when days_before < 30 then failed_requests else 0 end) as failed_requests_30d,
        sum(case when days_before < 30 then total_tokens else 0 end) as tokens_30d,
        sum(case when days_before >= 30 then total_tokens else 0 end) as tokens_prev_30d,
        sum(case when days_before < 30 then cost_usd else 0 end) as cost_usd_30d,
        sum(case when days_before >= 30 then cost_usd else 0 end) as cost_usd_prev_30d
    from usage_windows
    where days_before between 0 and 59
    group by customer_id, snapshot_month
),

user_activity as (
    select
        users.customer_id,
        activity.user_id,
        activity.activity_date,
        activity.logins,
        activity.login_errors,
        activity.is_active
    from {{ ref('int_users__activity_daily') }} as activity
    inner join {{ ref('dim_users') }} as users on activity.user_id = users.user_id
    where users.customer_id is not null
),

-- customer-days first, so the windows below are plain sums (distinct counts only for active users)
customer_activity_daily as (
    select
        customer_id,
        activity_date,
        sum(logins) as logins,
        sum(login_errors) as login_errors,
        max(case when is_active then 1 else 0 end) as is_active_day
    from user_activity
    group by customer_id, activity_date
),

activity_windows as (
    select
        customer_activity_daily.customer_id,
        {{ add_months(month_start('customer_activity_daily.activity_date'), 'offsets.month_offset') }} as snapshot_month,
        {{ days_between('customer_activity_daily.activity_date', month_end(add_months(month_start('customer_activity_daily.activity_date'), 'offsets.month_offset'))) }}
            as days_before,
        customer_activity_daily.logins,
        customer_activity_daily.login_errors,
        customer_activity_daily.is_active_day
    from customer_activity_daily
    cross join offsets
),

activity_features as (
    select
        customer_id,
        snapshot_month,
        sum(case when days_before < 7 then logins else 0 end) as logins_7d,
        sum(case when days_before < 30 then logins else 0 end) as logins_30d,
        sum(case when days_before >= 30 then logins else 0 end) as logins_prev_30d,
        sum(case when days_before < 30 then login_errors else 0 end) as login_errors_30d,
        sum(case when days_before < 7 then is_active_day else 0 end) as active_days_7d,
        sum(case when days_before < 30 then is_active_day else 0 end) as active_days_30d,
        sum(case when days_before >= 30 then is_active_day else 0 end) as active_days_prev_30d
    from activity_windows
    where days_before between 0 and 59
    group by customer_id, snapshot_month
),

-- a 30-day window ending on a month end reaches back into at most the previous month
active_user_windows as (
    select distinct
        user_activity.customer_id,
        user_activity.user_id,
        {{ add_months(month_start('user_activity.activity_date'), 'offsets.month_offset') }} as snapshot_month
    from user_activity
    inner join offsets on offsets.month_offset < 2
    where user_activity.is_active
        and {{ days_between('user_activity.activity_date', month_end(add_months(month_start('user_activity.activity_date'), 'offsets.month_offset'))) }} < 30
),

active_users as (
    select customer_id, snapshot_month, count(*) as active_users_30d
    from active_user_windows
    group by customer_id, snapshot_month
),

seats as (
    select
        snapshots.customer_id,
        snapshots.snapshot_month,
        count(*) as seats
    from snapshots
    inner join {{ ref('dim_users') }} as users
        on snapshots.customer_id = users.customer_id
        and users.signup_at < snapshots.snapshot_before
        and (users.deleted_at is null or users.deleted_at >= snapshots.snapshot_before)
    group by snapshots.customer_id, snapshots.snapshot_month
),

first_channels as (
    select customer_id, snapshot_month, signup_channel
    from (
        select
            snapshots.customer_id,
            snapshots.snapshot_month,
            users.signup_channel,
            row_number() over (
                partition by snapshots.customer_id, snapshots.snapshot_month
                order by users.signup_at, users.user_id
            ) as user_rank
        from snapshots
        inner join {{ ref('dim_users') }} as users
            on snapshots.customer_id = users.customer_id
            and users.signup_at < snapshots.snapshot_before
    ) as ranked
    where user_rank = 1
),

failed_payments as (
    select
        snapshots.customer_id,
        snapshots.snapshot_month,
        count(*) as failed_payments_90d
    from snapshots
    inner join {{ ref('stg_lago__customers') }} as customers
        on snapshots.customer_id = customers.customer_external_id
    inner join {{ ref('stg_lago__invoices') }} as invoices on customers.customer_id = invoices.customer_id
    inner join {{ ref('stg_lago__payments') }} as payments on invoices.invoice_id = payments.invoice_id
    where payments.payment_status = 'failed'
        and payments.created_at < snapshots.snapshot_before
        and payments.created_at >= snapshots.snapshot_before - interval '90 days'
    group by snapshots.customer_id, snapshots.snapshot_month
),

coupons as (
    select distinct
        snapshots.customer_id,
        snapshots.snapshot_month
    from snapshots
    inner join {{ ref('int_revenue__applied_coupons') }} as applied
        on snapshots.customer_id = applied.customer_external_id
        and applied.created_at < snapshots.snapshot_before
        and (applied.terminated_at is null or applied.terminated_at >= snapshots.snapshot_before)
),

quota as (
    select customer_id, month as snapshot_month, quota_use_pct, plan_quota_tokens
    from {{ ref('customer_margin_monthly') }}
),

countries as (
    select customer_external_id, max(country) as country
    from {{ ref('stg_lago__customers') }}
    group by customer_external_id
)

select
    snapshots.customer_id,
    snapshots.snapshot_month,
    snapshots.snapshot_date,
    {{ months_between_starts('snapshots.cohort_month', 'snapshots.snapshot_month') }} as tenure_months,
    snapshots.plan_code,
    snapshots.tier,
    snapshots.billing_interval,
    snapshots.mrr,
    cast(snapshots.mrr - coalesce(mrr_1m.mrr, 0) as decimal(18, 2)) as mrr_change_1m,
    cast(snapshots.mrr - coalesce(mrr_3m.mrr, 0) as decimal(18, 2)) as mrr_change_3m,
    coalesce(seats.seats, 0) as seats,
    coalesce(active_users.active_users_30d, 0) as active_users_30d,
    {{ decimal_ratio('coalesce(active_users.active_users_30d, 0)', 'seats.seats') }} as active_user_share_30d,
    cast(coalesce(activity_features.logins_7d, 0) as bigint) as logins_7d,
    cast(coalesce(activity_features.logins_30d, 0) as bigint) as logins_30d,
    cast(coalesce(activity_features.logins_prev_30d, 0) as bigint) as logins_prev_30d,
    {{ decimal_ratio('coalesce(activity_features.logins_30d, 0)', 'activity_features.logins_prev_30d') }}
        as logins_trend,
    cast(coalesce(activity_features.login_errors_30d, 0) as bigint) as login_errors_30d,
    cast(coalesce(activity_features.active_days_7d, 0) as bigint) as active_days_7d,
    cast(coalesce(activity_features.active_days_30d, 0) as bigint) as active_days_30d,
    cast(coalesce(activity_features.active_days_prev_30d, 0) as bigint) as active_days_prev_30d,
    {{ decimal_ratio('coalesce(activity_features.active_days_30d, 0)', 'activity_features.active_days_prev_30d') }}
        as active_days_trend,
    cast(coalesce(usage_features.requests_30d, 0) as bigint) as requests_30d,
    cast(coalesce(usage_features.requests_prev_30d, 0) as bigint) as requests_prev_30d,
    {{ decimal_ratio('coalesce(usage_features.requests_30d, 0)', 'usage_features.requests_prev_30d') }}
        as requests_trend,
    cast(coalesce(usage_features.tokens_30d, 0) as bigint) as tokens_30d,
    cast(coalesce(usage_features.tokens_prev_30d, 0) as bigint) as tokens_prev_30d,
    {{ decimal_ratio('coalesce(usage_features.tokens_30d, 0)', 'usage_features.tokens_prev_30d') }} as tokens_trend,
    cast(coalesce(usage_features.cost_usd_30d, 0) as decimal(18, 6)) as cost_usd_30d,
    cast(coalesce(usage_features.cost_usd_prev_30d, 0) as decimal(18, 6)) as cost_usd_prev_30d,
    {{ decimal_ratio('coalesce(usage_features.cost_usd_30d, 0)', 'usage_features.cost_usd_prev_30d') }}
        as cost_trend,
    {{ decimal_ratio('usage_features.failed_requests_30d', 'usage_features.requests_30d') }} as error_rate_30d,
    quota.plan_quota_tokens,
    quota.quota_use_pct,
    coalesce(failed_payments.failed_payments_90d, 0) as failed_payments_90d,
    coupons.customer_id is not null as has_active_coupon,
    coalesce(first_channels.signup_channel, 'unknown') as signup_channel,
    countries.country,
    case
        when next_month.month is null or not next_month.is_closed_month then null
        when next_month.movement_type = 'churn' then 1
        else 0
    end as churned_next_month
from snapshots
left join mrr as mrr_1m
    on snapshots.customer_id = mrr_1m.customer_id
    and mrr_1m.month = {{ add_months('snapshots.snapshot_month', -1) }}
left join mrr as mrr_3m
    on snapshots.customer_id = mrr_3m.customer_id
    and mrr_3m.month = {{ add_months('snapshots.snapshot_month', -3) }}
left join mrr as next_month
    on snapshots.customer_id = next_month.customer_id
    and next_month.month = {{ add_months('snapshots.snapshot_month', 1) }}
left join usage_features
    on snapshots.customer_id = usage_features.customer_id
    and snapshots.snapshot_month = usage_features.snapshot_month
left join activity_features
    on snapshots.customer_id = activity_features.customer_id
    and snapshots.snapshot_month = activity_features.snapshot_month
left join active_users
    on snapshots.customer_id = active_users.customer_id
    and snapshots.snapshot_month = active_users.snapshot_month
left join seats
    on snapshots.customer_id = seats.customer_id
    and snapshots.snapshot_month = seats.snapshot_month
left join first_channels
    on snapshots.customer_id = first_channels.customer_id
    and snapshots.snapshot_month = first_channels.snapshot_month
left join failed_payments
    on snapshots.customer_id = failed_payments.customer_id
    and snapshots.snapshot_month = failed_payments.snapshot_month
left join coupons
    on snapshots.customer_id = coupons.customer_id
    and snapshots.snapshot_month = coupons.snapshot_month
left join quota
    on snapshots.customer_id = quota.customer_id
    and snapshots.snapshot_month = quota.snapshot_month
left join countries on snapshots.customer_id = countries.customer_external_id
