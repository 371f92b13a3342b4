{{ usage_partitioned_config() }}
{#- Day x service x provider base aggregates of external traffic (exact latency percentiles need the rows);
    service_performance_daily adds the trailing baseline on top. -#}

with aggregated as (
    select
        usage_date,
        service,
        provider,
        count(*) as requests,
        cast(sum(case when is_failed then 1 else 0 end) as bigint) as failed_requests,
        cast(sum(total_tokens) as bigint) as total_tokens,
        cast(sum(cost_usd) as decimal(18, 10)) as cost_usd,
        {{ exact_percentiles('latency_ms', [0.5, 0.95, 0.99]) }} as latency_percentiles_ms
    from {{ ref('int_usage__requests') }}
    where not is_internal
        and {{ usage_partition_filter('usage_date') }}
    group by usage_date, service, provider
)

select
    usage_date,
    service,
    provider,
    requests,
    failed_requests,
    total_tokens,
    cost_usd,
    cast(latency_percentiles_ms[1] as decimal(18, 3)) as latency_p50_ms,
    cast(latency_percentiles_ms[2] as decimal(18, 3)) as latency_p95_ms,
    cast(latency_percentiles_ms[3] as decimal(18, 3)) as latency_p99_ms
from aggregated
