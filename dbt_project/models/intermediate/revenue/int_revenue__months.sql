{#- One row per calendar month (UTC) from the first subscription start to the data's as-of month, with the
    month-end snapshot instant of metric_rules.md. Comparisons against the snapshot instant t use its exclusive
    successor `snapshot_before` (t + 1 microsecond): x <= t  <=>  x < snapshot_before. -#}
{{ config(materialized='table') }}

with bounds as (
    select {{ month_start('min(started_at)') }} as first_month
    from {{ ref('stg_lago__subscriptions') }}
    where started_at is not null
),

months as (
    select series.month_start
    from {{ date_series('(select first_month from bounds)', month_start(as_of_date()), 'month', 'month_start') }} as series
)

select
    month_start,
    {{ month_end('month_start') }} as month_end,
    -- closed months end at their last instant; the as-of month ends at the end of the as-of day
    case
        when {{ add_months('month_start', 1) }} <= {{ as_of_date() }}
            then cast({{ add_months('month_start', 1) }} as timestamp)
        else cast({{ add_days(as_of_date(), 1) }} as timestamp)
    end as snapshot_before,
    case
        when {{ add_months('month_start', 1) }} <= {{ as_of_date() }} then {{ month_end('month_start') }}
        else {{ as_of_date() }}
    end as snapshot_date,
    {{ add_months('month_start', 1) }} <= {{ as_of_date() }} as is_closed_month
from months
