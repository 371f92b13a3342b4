{{ usage_partitioned_config() }}
{#- Usage of external customers per day x customer x service x model (x provider). Daily-partitioned. -#}

with requests as (
    select *
    from {{ ref('int_usage__requests') }}
    where not is_internal
        and {{ usage_partition_filter('usage_date') }}
),

-- Estimated cache savings price a cache hit at the average cost of a non-cached request to the same model that day.
model_day_prices as (
    select
        usage_date,
        model,
        avg(case when not is_cache_hit then cost_usd end) as avg_uncached_cost_usd
    from requests
    group by usage_date, model
),

aggregated as (
    select
        usage_date,
        customer_external_id,
        service,
        provider,
        model,
        count(*) as requests,
        cast(sum(case when is_failed then 1 else 0 end) as bigint) as failed_requests,
        cast(sum(prompt_tokens) as bigint) as prompt_tokens,
        cast(sum(completion_tokens) as bigint) as completion_tokens,
        cast(sum(total_tokens) as bigint) as total_tokens,
        cast(sum(cost_usd) as decimal(18, 10)) as cost_usd,
        cast(sum(case when is_cache_hit then 1 else 0 end) as bigint) as cache_hits,
        {{ exact_percentiles('latency_ms', [0.5, 0.95, 0.99]) }} as latency_percentiles_ms
    from requests
    group by usage_date, customer_external_id, service, provider, model
)

select
    aggregated.usage_date,
    aggregated.customer_external_id as customer_id,
    aggregated.service,
    aggregated.provider,
    aggregated.model,
    aggregated.requests,
    aggregated.failed_requests,
    {{ safe_ratio('aggregated.failed_requests', 'aggregated.requests') }} as error_rate,
    aggregated.prompt_tokens,
    aggregated.completion_tokens,
    aggregated.total_tokens,
    aggregated.cost_usd,
    aggregated.cache_hits,
    {{ safe_ratio('aggregated.cache_hits', 'aggregated.requests') }} as cache_hit_rate,
    cast(coalesce(aggregated.cache_hits * model_day_prices.avg_uncached_cost_usd, 0) as decimal(18, 6))
        as estimated_cache_savings_usd,
    cast(aggregated.latency_percentiles_ms[1] as decimal(18, 3)) as latency_p50_ms,
    cast(aggregated.latency_percentiles_ms[2] as decimal(18, 3)) as latency_p95_ms,
    cast(aggregated.latency_percentiles_ms[3] as decimal(18, 3)) as latency_p99_ms
from aggregated
left join model_day_prices
    on aggregated.usage_date = model_day_prices.usage_date
    and aggregated.model = model_day_prices.model
