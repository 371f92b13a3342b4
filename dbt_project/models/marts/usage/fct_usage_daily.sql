{{ usage_partitioned_config() }}
{#- Usage of external customers per day x customer x service x model (x provider). Daily-partitioned. -#}

{%- set group_keys = 'usage_date, customer_external_id, service, provider, model' %}

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
    from {{ ref('int_usage__requests') }}
    where not is_internal
        and {{ usage_partition_filter('usage_date') }}
    group by usage_date, model
),

-- Exact latency percentiles from each row's rank in its group (one sort of the rows; see ranked_percentile):
-- most groups hold a handful of requests, where a per-group percentile aggregate costs more than the sort.
ranked as (
    select
        requests.*,
        row_number() over (partition by {{ group_keys }} order by latency_ms) as latency_rank,
        count(latency_ms) over (partition by {{ group_keys }}) as latency_count
    from requests
),

aggregated as (
    select
        {{ group_keys }},
        count(*) as requests,
        cast(sum(case when is_failed then 1 else 0 end) as bigint) as failed_requests,
        cast(sum(prompt_tokens) as bigint) as prompt_tokens,
        cast(sum(completion_tokens) as bigint) as completion_tokens,
        cast(sum(total_tokens) as bigint) as total_tokens,
        cast(sum(cost_usd) as decimal(18, 10)) as cost_usd,
        cast(sum(case when is_cache_hit then 1 else 0 end) as bigint) as cache_hits,
        {%- for name, fraction in [('p50', 0.5), ('p95', 0.95), ('p99', 0.99)] %}
        {{ ranked_percentile('latency_ms', 'latency_rank', 'latency_count', fraction) }} as latency_{{ name }}_ms
        {{- ',' if not loop.last }}
        {%- endfor %}
    from ranked
    group by {{ group_keys }}
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
    cast(aggregated.latency_p50_ms as decimal(18, 3)) as latency_p50_ms,
    cast(aggregated.latency_p95_ms as decimal(18, 3)) as latency_p95_ms,
    cast(aggregated.latency_p99_ms as decimal(18, 3)) as latency_p99_ms
from aggregated
left join model_day_prices
    on aggregated.usage_date = model_day_prices.usage_date
    and aggregated.model = model_day_prices.model
