{{ usage_partitioned_config() }}
{#- One row per LiteLLM request (request_id), de-duplicated: the latest loaded copy wins. Daily-partitioned on
    the request's start day; the internal flag is taken when the day is (re)processed. -#}

with spend_logs as (
    select *
    from {{ ref('stg_litellm__spend_logs') }}
    where {{ usage_partition_filter('started_at') }}
),

ranked as (
    select
        *,
        row_number() over (partition by request_id order by loaded_at desc) as copy_rank
    from spend_logs
),

internal_customers as (
    select customer_external_id
    from {{ ref('stg_lago__customers') }}
    group by customer_external_id
    having bool_or(is_internal)
),

internal_users as (
    select user_id
    from {{ ref('stg_keycloak__users') }}
    where is_internal
)

select
    ranked.request_id,
    ranked.started_at,
    cast(ranked.started_at as date) as usage_date,
    date_trunc('hour', ranked.started_at) as usage_hour,
    ranked.customer_external_id,
    ranked.user_id,
    ranked.service,
    ranked.provider,
    ranked.model,
    coalesce(ranked.status = 'failure', false) as is_failed,
    coalesce(ranked.is_cache_hit, false) as is_cache_hit,
    coalesce(ranked.prompt_tokens, 0) as prompt_tokens,
    coalesce(ranked.completion_tokens, 0) as completion_tokens,
    coalesce(ranked.prompt_tokens, 0) + coalesce(ranked.completion_tokens, 0) as total_tokens,
    -- exact decimals: sums of doubles depend on the summation order, so reruns would differ in the last digits
    cast(coalesce(ranked.spend, 0) as decimal(18, 10)) as cost_usd,
    coalesce(
        ranked.request_duration_ms, {{ milliseconds_between('ranked.started_at', 'ranked.ended_at') }}
    ) as latency_ms,
    (internal_customers.customer_external_id is not null or internal_users.user_id is not null) as is_internal
from ranked
left join internal_customers
    on ranked.customer_external_id = internal_customers.customer_external_id
left join internal_users
    on ranked.user_id = internal_users.user_id
where ranked.copy_rank = 1
