{#- One row per external customer paying at the end of the last closed month: its usage segment (power, active,
    at_risk, dormant) and the rule's inputs, all measured over the 30-day windows ending on that month's last day.
    The rule is the usage_segment macro (documented there and in the YAML); a customer-day is active when any of
    the customer's users is active (login or request). -#}

with snapshot as (
    select
        {{ add_months(month_start(as_of_date()), -1) }} as segment_month,
        {{ month_end(add_months(month_start(as_of_date()), -1)) }} as snapshot_date
),

paying as (
    select margin.customer_id, margin.mrr, margin.quota_use_pct, margin.total_tokens, margin.plan_quota_tokens
    from {{ ref('customer_margin_monthly') }} as margin
    inner join snapshot on margin.month = snapshot.segment_month
    where margin.is_paying
),

customer_days as (
    select
        users.customer_id,
        activity.activity_date,
        sum(activity.requests) as requests
    from {{ ref('int_users__activity_daily') }} as activity
    inner join {{ ref('dim_users') }} as users on activity.user_id = users.user_id
    cross join snapshot
    where activity.is_active
        and users.customer_id is not null
        and activity.activity_date <= snapshot.snapshot_date
    group by users.customer_id, activity.activity_date
),

activity as (
    select
        customer_days.customer_id,
        max(customer_days.activity_date) as last_active_date,
        sum(case when customer_days.activity_date > {{ add_days('snapshot.snapshot_date', -30) }} then 1 else 0 end)
            as active_days_last_30d,
        sum(
            case
                when customer_days.activity_date <= {{ add_days('snapshot.snapshot_date', -30) }}
                    and customer_days.activity_date > {{ add_days('snapshot.snapshot_date', -60) }}
                    then 1
                else 0
            end
        ) as active_days_prev_30d,
        sum(case when customer_days.activity_date > {{ add_days('snapshot.snapshot_date', -30) }}
            then customer_days.requests else 0 end) as requests_last_30d
    from customer_days
    cross join snapshot
    group by customer_days.customer_id
),

inputs as (
    select
        snapshot.segment_month,
        paying.customer_id,
        paying.mrr,
        activity.last_active_date,
        {{ days_between('activity.last_active_date', 'snapshot.snapshot_date') }} as days_since_last_active,
        cast(coalesce(activity.active_days_last_30d, 0) as bigint) as active_days_last_30d,
        cast(coalesce(activity.active_days_prev_30d, 0) as bigint) as active_days_prev_30d,
        cast(coalesce(activity.requests_last_30d, 0) as bigint) as requests_last_30d,
        paying.total_tokens as tokens_in_month,
        paying.plan_quota_tokens,
        paying.quota_use_pct
    from paying
    cross join snapshot
    left join activity on paying.customer_id = activity.customer_id
)

select
    segment_month,
    customer_id,
    {{ usage_segment('days_since_last_active', 'active_days_last_30d', 'active_days_prev_30d', 'quota_use_pct') }}
        as segment,
    mrr,
    last_active_date,
    days_since_last_active,
    active_days_last_30d,
    active_days_prev_30d,
    {{ decimal_ratio('active_days_last_30d', 'active_days_prev_30d') }} as activity_trend,
    requests_last_30d,
    tokens_in_month,
    plan_quota_tokens,
    quota_use_pct
from inputs
