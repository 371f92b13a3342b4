{#- Month x provider x model: external usage volume and cost, in USD as logged and in the reporting currency at
    the month's FX rate (seed fx_rates_monthly). The as-of month is month to date (is_closed_month = false). -#}

with monthly as (
    select
        {{ month_start('usage_date') }} as month_start,
        provider,
        model,
        cast(sum(requests) as bigint) as requests,
        cast(sum(failed_requests) as bigint) as failed_requests,
        cast(sum(prompt_tokens) as bigint) as prompt_tokens,
        cast(sum(completion_tokens) as bigint) as completion_tokens,
        cast(sum(total_tokens) as bigint) as total_tokens,
        sum(cost_usd) as cost_usd
    from {{ ref('fct_usage_daily') }}
    group by 1, provider, model
),

usd_rates as (
    select month_start, rate_to_reporting
    from {{ ref('int_revenue__fx_rates') }}
    where currency = 'USD'
)

select
    monthly.month_start as month,
    monthly.provider,
    monthly.model,
    monthly.requests,
    monthly.failed_requests,
    monthly.prompt_tokens,
    monthly.completion_tokens,
    monthly.total_tokens,
    cast(monthly.cost_usd as decimal(18, 6)) as cost_usd,
    cast(round(cast(monthly.cost_usd as decimal(18, 6)) * usd_rates.rate_to_reporting, 2) as decimal(18, 2)) as cost,
    {{ safe_ratio('monthly.cost_usd * 1000', 'monthly.total_tokens') }} as cost_usd_per_1k_tokens,
    {{ safe_ratio('monthly.cost_usd', 'sum(monthly.cost_usd) over (partition by monthly.month_start)') }}
        as share_of_cost,
    monthly.month_start < {{ month_start(as_of_date()) }} as is_closed_month
from monthly
left join usd_rates
    on monthly.month_start = usd_rates.month_start
