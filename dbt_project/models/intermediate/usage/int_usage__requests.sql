{{ usage_partitioned_config() }}
{#- One row per LiteLLM request (request_id), de-duplicated: the latest loaded copy wins. Daily-partitioned on
    the request's start day; the internal flag is taken when the day is (re)processed. -#}

{%- set columns = [
    'request_id', 'started_at', 'ended_at', 'customer_external_id', 'user_id', 'service', 'provider', 'model',
    'status', 'is_cache_hit', 'prompt_tokens', 'completion_tokens', 'spend', 'request_duration_ms', 'loaded_at'
] %}

{#- De-duplication costs a hash aggregate over every request id; skipped where the raw table's key enforces
    uniqueness already (PostgreSQL: primary key on request_id; a DuckDB raw table has none, and file drops can
    deliver a batch twice). -#}
{%- set source_is_unique = enforces_unique_column(source('litellm', 'LiteLLM_SpendLogs'), 'request_id') %}

with spend_logs as (
    select {{ columns | join(', ') }}
    from {{ ref('stg_litellm__spend_logs') }}
    where {{ usage_partition_filter('started_at') }}
),
{%- if source_is_unique %}

deduplicated as (
    select {{ columns | join(', ') }} from spend_logs
),
{%- else %}

-- Copies are rare: one hash aggregate finds them and only their rows are ranked, instead of sorting every row.
duplicate_ids as (
    select request_id
    from spend_logs
    group by request_id
    having count(*) > 1
),

ranked as (
    select
        {% for column in columns %}spend_logs.{{ column }}, {% endfor %}
        row_number() over (partition by spend_logs.request_id order by spend_logs.loaded_at desc) as copy_rank
    from spend_logs
    inner join duplicate_ids on spend_logs.request_id = duplicate_ids.request_id
),

deduplicated as (
    select {{ columns | join(', ') }}
    from spend_logs
    where not exists (select 1 from duplicate_ids where duplicate_ids.request_id = spend_logs.request_id)
    union all
    select {{ columns | join(', ') }}
    from ranked
    where copy_rank = 1
),
{%- endif %}

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
    deduplicated.request_id,
    deduplicated.started_at,
    cast(deduplicated.started_at as date) as usage_date,
    date_trunc('hour', deduplicated.started_at) as usage_hour,
    deduplicated.customer_external_id,
    deduplicated.user_id,
    deduplicated.service,
    deduplicated.provider,
    deduplicated.model,
    coalesce(deduplicated.status = 'failure', false) as is_failed,
    coalesce(deduplicated.is_cache_hit, false) as is_cache_hit,
    coalesce(deduplicated.prompt_tokens, 0) as prompt_tokens,
    coalesce(deduplicated.completion_tokens, 0) as completion_tokens,
    coalesce(deduplicated.prompt_tokens, 0) + coalesce(deduplicated.completion_tokens, 0) as total_tokens,
    -- exact decimals: sums of doubles depend on the summation order, so reruns would differ in the last digits
    cast(coalesce(deduplicated.spend, 0) as decimal(18, 10)) as cost_usd,
    coalesce(
        deduplicated.request_duration_ms, {{ milliseconds_between('deduplicated.started_at', 'deduplicated.ended_at') }}
    ) as latency_ms,
    -- semi-joins on the two small lists (hashed), not joins that a planner may sort millions of rows for
    (
        coalesce(deduplicated.customer_external_id in (select customer_external_id from internal_customers), false)
        or coalesce(deduplicated.user_id in (select user_id from internal_users), false)
    ) as is_internal
from deduplicated
