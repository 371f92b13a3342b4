{#- One row per external customer paying (MRR > 0) at the end of a closed month M: the churn model's features,
    each computed only from data stamped at or before the snapshot (the last day of M), and the label
    churned_next_month = the customer has a churn movement in M+1 (NULL while M+1 is not closed).
    Windows "last N days" are the N days ending on the snapshot day; "prev 30 days" / "prev 90 days" are the 30 / 90
    days before the last 30. Window sums are differences of running sums read at the windows' edges (macro
    snapshot_window_sums), so no range join over customers x months and no copy of a daily row per window. -#}

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

usage_daily as (
    select
        customer_id,
        usage_date,
        sum(requests) as requests,
        sum(failed_requests) as failed_requests,
        sum(total_tokens) as tokens,
        sum(cost_usd) as cost_usd
    from {{ ref('fct_usage_daily') }}
    where customer_id is not null
    group by customer_id, usage_date
),

usage_features as (
    {{ snapshot_window_sums('usage_daily', 'usage_date', {
        'requests': ['30d', 'prev_30d', 'prev_90d'],
        'failed_requests': ['30d'],
        'tokens': ['30d', 'prev_30d'],
        'cost_usd': ['30d', 'prev_30d'],
    }) }}
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

active_user_days as (
    select customer_id, user_id, activity_date from user_activity where is_active
),

-- customer-days first, so the windows below are plain sums (distinct counts only for active users)
customer_activity_daily as (
    select
        customer_id,
        activity_date,
        sum(logins) as logins,
        sum(login_errors) as login_errors,
        max(case when is_active then 1 else 0 end) as active_days
    from user_activity
    group by customer_id, activity_date
),

activity_features as (
    {{ snapshot_window_sums('customer_activity_daily', 'activity_date', {
        'logins': ['7d', '30d', 'prev_30d'],
        'login_errors': ['30d'],
        'active_days': ['7d', '30d', 'prev_30d'],
    }) }}
),

-- distinct users active in the 30 days ending on the snapshot day, counted once each by their last active day up to
-- the snapshot: a user-day counts for the month ends from that day until the day before the user's next active
-- day, at most 29 days later (at most two month ends, this month's and the next)
active_users as (
    select customer_id, snapshot_month, count(*) as active_users_30d
    from (
        select
            user_days.customer_id,
            user_days.activity_date,
            user_days.next_active_date,
            {{ add_months(month_start('user_days.activity_date'), 'offsets.month_offset') }} as snapshot_month
        from (
            select
                customer_id,
                activity_date,
                lead(activity_date) over (partition by customer_id, user_id order by activity_date) as next_active_date
            from active_user_days
        ) as user_days
        cross join (select 0 as month_offset union all select 1) as offsets
    ) as candidates
    where {{ days_between('activity_date', month_end('snapshot_month')) }} <= 29
        and (next_active_date is null or next_active_date > {{ month_end('snapshot_month') }})
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

-- payment attempts known at each snapshot, per invoice that ever had a failed one (few invoices do)
invoice_attempts as (
    select
        snapshots.customer_id,
        snapshots.snapshot_month,
        invoices.invoice_id,
        {{ days_between('invoices.payment_due_date', 'snapshots.snapshot_date') }} as days_past_due,
        sum(case when payments.payment_status = 'failed' then 1 else 0 end) as failed_attempts,
        sum(
            case
                when payments.payment_status = 'failed'
                    and payments.created_at >= snapshots.snapshot_before - interval '90 days' then 1
                else 0
            end
        ) as failed_attempts_90d,
        max(case when payments.payment_status = 'succeeded' then 1 else 0 end) as is_paid
    from snapshots
    inner join {{ ref('stg_lago__customers') }} as customers
        on snapshots.customer_id = customers.customer_external_id
    inner join {{ ref('stg_lago__invoices') }} as invoices on customers.customer_id = invoices.customer_id
    inner join {{ ref('stg_lago__payments') }} as payments on invoices.invoice_id = payments.invoice_id
    where payments.created_at < snapshots.snapshot_before
        and invoices.invoice_id in (
            select invoice_id from {{ ref('stg_lago__payments') }} where payment_status = 'failed'
        )
    group by snapshots.customer_id, snapshots.snapshot_month, invoices.invoice_id, invoices.payment_due_date,
        snapshots.snapshot_date
),

-- dunning: invoices with a failed attempt and no successful payment yet at the snapshot
payment_features as (
    select
        customer_id,
        snapshot_month,
        sum(failed_attempts_90d) as failed_payments_90d,
        sum(case when failed_attempts > 0 and is_paid = 0 then 1 else 0 end) as open_failed_invoices,
        max(case when failed_attempts > 0 and is_paid = 0 then failed_attempts end) as open_invoice_failed_attempts,
        max(case when failed_attempts > 0 and is_paid = 0 then days_past_due end) as open_invoice_days_past_due
    from invoice_attempts
    group by customer_id, snapshot_month
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
    {{ decimal_ratio('coalesce(activity_features.logins_30d, 0)', 'seats.seats') }} as logins_per_seat_30d,
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
    cast(coalesce(usage_features.requests_prev_90d, 0) as bigint) as requests_prev_90d,
    {{ decline_vs_usual('coalesce(usage_features.requests_30d, 0)', 30, 'coalesce(usage_features.requests_prev_90d, 0)', 90) }}
        as usage_decline_90d,
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
    cast(coalesce(payment_features.failed_payments_90d, 0) as bigint) as failed_payments_90d,
    cast(coalesce(payment_features.open_failed_invoices, 0) as bigint) as open_failed_invoices,
    cast(payment_features.open_invoice_failed_attempts as integer) as open_invoice_failed_attempts,
    cast(payment_features.open_invoice_days_past_due as integer) as open_invoice_days_past_due,
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
{%- for features in ['usage_features', 'activity_features', 'active_users', 'seats', 'first_channels',
                      'payment_features', 'coupons', 'quota'] %}
left join {{ features }}
    on snapshots.customer_id = {{ features }}.customer_id
    and snapshots.snapshot_month = {{ features }}.snapshot_month
{%- endfor %}
left join countries on snapshots.customer_id = countries.customer_external_id
