{#- Day x service x provider: volume, error rate, exact latency percentiles and an incident flag.
    Incident rule: the day's error rate breaks its trailing baseline, i.e. with at least
    var('incident_min_requests', 100) requests and an error rate of at least var('incident_min_error_rate', 0.05),
    it is above twice the baseline error rate and above
    baseline + 3 binomial standard deviations (sqrt(b (1 - b) / requests)), where the baseline is the
    request-weighted error rate of the previous 28 calendar days (days without traffic count as empty). -#}

{%- set baseline_days = 28 -%}

with daily as (
    select * from {{ ref('int_usage__service_daily') }}
),

services as (
    select service, provider, min(usage_date) as first_date, max(usage_date) as last_date
    from daily
    group by service, provider
),

bounds as (
    select min(first_date) as first_date, max(last_date) as last_date from services
),

days as (
    select cast(series.series_value as date) as date_day
    from bounds
    cross join lateral generate_series(
        cast(bounds.first_date as timestamp), cast(bounds.last_date as timestamp), interval '1 day'
    ) as series (series_value)
),

-- Dense days per service so the trailing window is 28 calendar days, not 28 rows with traffic.
spine as (
    select days.date_day as usage_date, services.service, services.provider
    from services
    inner join days
        on days.date_day between services.first_date and services.last_date
),

dense as (
    select
        spine.usage_date,
        spine.service,
        spine.provider,
        coalesce(daily.requests, 0) as requests,
        coalesce(daily.failed_requests, 0) as failed_requests,
        daily.total_tokens,
        daily.cost_usd,
        daily.latency_p50_ms,
        daily.latency_p95_ms,
        daily.latency_p99_ms
    from spine
    left join daily
        on spine.usage_date = daily.usage_date
        and spine.service = daily.service
        and spine.provider is not distinct from daily.provider
),

with_baseline as (
    select
        *,
        sum(requests) over baseline_window as baseline_requests,
        sum(failed_requests) over baseline_window as baseline_failed_requests
    from dense
    window baseline_window as (
        partition by service, provider order by usage_date
        rows between {{ baseline_days }} preceding and 1 preceding
    )
),

rated as (
    select
        *,
        cast(failed_requests as double precision) / nullif(requests, 0) as error_rate_value,
        cast(baseline_failed_requests as double precision) / nullif(baseline_requests, 0) as baseline_value
    from with_baseline
)

select
    usage_date,
    service,
    provider,
    requests,
    failed_requests,
    {{ safe_ratio('failed_requests', 'requests') }} as error_rate,
    {{ safe_ratio('baseline_failed_requests', 'baseline_requests') }} as baseline_error_rate,
    coalesce(total_tokens, 0) as total_tokens,
    coalesce(cost_usd, 0) as cost_usd,
    latency_p50_ms,
    latency_p95_ms,
    latency_p99_ms,
    coalesce(
        requests >= {{ var('incident_min_requests', 100) }}
        and error_rate_value >= {{ var('incident_min_error_rate', 0.05) }}
        and error_rate_value > 2 * baseline_value
        and error_rate_value > baseline_value + 3 * sqrt(baseline_value * (1 - baseline_value) / requests),
        false
    ) as is_incident
from rated
where requests > 0
