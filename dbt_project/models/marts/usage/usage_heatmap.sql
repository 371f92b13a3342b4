{#- Weekday x UTC hour of external requests over the trailing var('usage_heatmap_days', 28) days ending on the
    data's as-of date (inclusive). All 7 x 24 cells are present (0 when idle). -#}

{%- set window_days = var('usage_heatmap_days', 28) | int -%}

with window_bounds as (
    select
        {{ add_days(as_of_date(), 1 - window_days) }} as window_start_date,
        {{ as_of_date() }} as window_end_date
),

hourly as (
    select
        cast(extract(isodow from hourly.usage_hour) as integer) as iso_weekday,
        cast(extract(hour from hourly.usage_hour) as integer) as hour_utc,
        cast(sum(hourly.requests) as bigint) as requests
    from {{ ref('int_usage__hourly') }} as hourly
    cross join window_bounds
    where hourly.usage_date between window_bounds.window_start_date and window_bounds.window_end_date
    group by 1, 2
),

cells as (
    select weekdays.iso_weekday, hours.hour_utc
    from generate_series(1, 7) as weekdays (iso_weekday)
    cross join generate_series(0, 23) as hours (hour_utc)
),

filled as (
    select
        cells.iso_weekday,
        cells.hour_utc,
        coalesce(hourly.requests, 0) as requests
    from cells
    left join hourly
        on cells.iso_weekday = hourly.iso_weekday
        and cells.hour_utc = hourly.hour_utc
)

select
    filled.iso_weekday,
    case filled.iso_weekday
        when 1 then 'Monday' when 2 then 'Tuesday' when 3 then 'Wednesday' when 4 then 'Thursday'
        when 5 then 'Friday' when 6 then 'Saturday' else 'Sunday'
    end as weekday_name,
    filled.hour_utc,
    filled.requests,
    {{ safe_ratio('filled.requests', 'sum(filled.requests) over ()') }} as share_of_week,
    window_bounds.window_start_date,
    window_bounds.window_end_date
from filled
cross join window_bounds
