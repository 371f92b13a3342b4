{#- Monthly rate from each billing currency to the reporting currency (var reporting_currency):
    rate_to_usd(X, M) / rate_to_usd(R, M), kept as an exact decimal (metric_rules.md "Currency"). -#}
{{ config(materialized='table') }}

with rates as (
    select
        cast(month as date) as month_start,
        upper(currency) as currency,
        cast(rate_to_usd as decimal(18, 8)) as rate_to_usd
    from {{ ref('fx_rates_monthly') }}
),

reporting as (
    select month_start, rate_to_usd
    from rates
    where currency = upper('{{ var("reporting_currency") }}')
)

select
    rates.month_start,
    rates.currency,
    upper('{{ var("reporting_currency") }}') as reporting_currency,
    case
        when reporting.rate_to_usd = 1 then cast(rates.rate_to_usd as decimal(38, 12))
        else {{ revenue_divide('rates.rate_to_usd', 'reporting.rate_to_usd', 12) }}
    end as rate_to_reporting
from rates
inner join reporting on rates.month_start = reporting.month_start
