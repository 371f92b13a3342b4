{#- Money arithmetic for the revenue models (metric_rules.md "Rounding": decimals throughout, never floats). -#}

{#- numerator / denominator as decimal(38, scale). DuckDB turns any decimal division into a double, so there the
    quotient is cast back to a decimal: the double is within 1e-12 of the exact quotient, and rounding to `scale`
    places restores every quotient that terminates within `scale` places (all the half-cent cases that matter
    for a later round(.., 2)). PostgreSQL numeric division is exact. -#}
{% macro revenue_divide(numerator, denominator, scale=10) -%}
    {{ return(adapter.dispatch('revenue_divide')(numerator, denominator, scale)) }}
{%- endmacro %}

{% macro default__revenue_divide(numerator, denominator, scale) -%}
    cast(cast({{ numerator }} as numeric) / nullif(cast({{ denominator }} as numeric), 0) as decimal(38, {{ scale }}))
{%- endmacro %}

{% macro duckdb__revenue_divide(numerator, denominator, scale) -%}
    cast(cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0) as decimal(38, {{ scale }}))
{%- endmacro %}

{#- Billing periods per 12 months of a Lago plan interval: the monthly-normalised price is amount * this / 12
    (monthly x1, quarterly /3, semiannual /6, yearly /12, weekly x52/12). Keeping the factor an integer keeps
    the MRR arithmetic exact until its single final division. -#}
{% macro periods_per_year(billing_interval) -%}
    case {{ billing_interval }}
        when 'weekly' then 52
        when 'monthly' then 12
        when 'quarterly' then 4
        when 'semiannual' then 2
        when 'yearly' then 1
    end
{%- endmacro %}

{#- A ratio as a double (rates, not money); NULL when the denominator is 0. -#}
{% macro safe_ratio(numerator, denominator) -%}
    (cast({{ numerator }} as double precision) / nullif(cast({{ denominator }} as double precision), 0))
{%- endmacro %}

{#- Whole months from one first-of-month date to another (both month starts). -#}
{% macro months_between_starts(start_month, end_month) -%}
    cast(
        (extract(year from {{ end_month }}) - extract(year from {{ start_month }})) * 12
        + extract(month from {{ end_month }}) - extract(month from {{ start_month }})
        as integer
    )
{%- endmacro %}
