{#- Date helpers that run unchanged on DuckDB and PostgreSQL (dispatched where the dialects differ).
    All take and return timestamps/dates without time zone (the warehouse stores UTC). -#}

{#- The data's as-of date as a SQL date: run setting as_of_date ('YYYY-MM-DD', see run_setting) or, when empty,
    today's date. -#}
{% macro as_of_date() -%}
    {%- set value = run_setting('as_of_date') -%}
    {%- if value -%}
        cast('{{ value }}' as date)
    {%- else -%}
        current_date
    {%- endif -%}
{%- endmacro %}

{#- First day of the month of a date/timestamp, as a date. -#}
{% macro month_start(expression) -%}
    {{ return(adapter.dispatch('month_start')(expression)) }}
{%- endmacro %}

{% macro default__month_start(expression) -%}
    cast(date_trunc('month', {{ expression }}) as date)
{%- endmacro %}

{#- PostgreSQL would take a date as `timestamp with time zone` (date_trunc's preferred overload) and truncate in the
    session's time zone: the same month, at several times the cost per row. -#}
{% macro postgres__month_start(expression) -%}
    cast(date_trunc('month', cast({{ expression }} as timestamp)) as date)
{%- endmacro %}

{#- Last day of the month of a date/timestamp, as a date. -#}
{% macro month_end(expression) -%}
    ({{ add_months(month_start(expression), 1) }} - 1)
{%- endmacro %}

{#- date + n days, as a date (n: integer expression). -#}
{% macro add_days(date_expression, days) -%}
    (cast({{ date_expression }} as date) + cast({{ days }} as integer))
{%- endmacro %}

{#- date + n calendar months, as a date (end-of-month clamps: Jan 31 + 1 month = Feb 28/29). -#}
{% macro add_months(date_expression, months) -%}
    {{ return(adapter.dispatch('add_months')(date_expression, months)) }}
{%- endmacro %}

{% macro default__add_months(date_expression, months) -%}
    cast(cast({{ date_expression }} as date) + cast({{ months }} as integer) * interval '1 month' as date)
{%- endmacro %}

{% macro duckdb__add_months(date_expression, months) -%}
    cast(cast({{ date_expression }} as date) + to_months(cast({{ months }} as integer)) as date)
{%- endmacro %}

{#- Whole days from start to end (end - start), both cast to dates. -#}
{% macro days_between(start_expression, end_expression) -%}
    {{ return(adapter.dispatch('days_between')(start_expression, end_expression)) }}
{%- endmacro %}

{% macro default__days_between(start_expression, end_expression) -%}
    (cast({{ end_expression }} as date) - cast({{ start_expression }} as date))
{%- endmacro %}

{% macro duckdb__days_between(start_expression, end_expression) -%}
    date_diff('day', cast({{ start_expression }} as date), cast({{ end_expression }} as date))
{%- endmacro %}

{#- Last instant (microsecond precision) of a day, as a timestamp: the snapshot instant of metric_rules.md. -#}
{% macro end_of_day(date_expression) -%}
    (cast(cast({{ date_expression }} as date) as timestamp) + interval '1 day' - interval '1 microsecond')
{%- endmacro %}

{#- A table expression with one row per period from start to end inclusive, column `{{ column_name }}` (date).
    step: 'day' or 'month'. Example in macros/_macros.yml. -#}
{% macro date_series(start_expression, end_expression, step='day', column_name='date_day') -%}
    (
        select cast(series_value as date) as {{ column_name }}
        from generate_series(
            cast({{ start_expression }} as timestamp),
            cast({{ end_expression }} as timestamp),
            interval '1 {{ step }}'
        ) as series(series_value)
    )
{%- endmacro %}

{#- Filter for daily-partitioned incremental models: `column` within [partition_start, partition_end) (run
    settings, see run_setting) when Dagster passes a partition window, else `fallback` (default: no filter). -#}
{% macro partition_window_filter(column, fallback='true') -%}
    {%- set start = run_setting('partition_start') -%}
    {%- set end = run_setting('partition_end') -%}
    {%- if start and end -%}
        ({{ column }} >= cast('{{ start }}' as timestamp) and {{ column }} < cast('{{ end }}' as timestamp))
    {%- else -%}
        ({{ fallback }})
    {%- endif -%}
{%- endmacro %}
