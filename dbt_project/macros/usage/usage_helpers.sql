{#- Helpers of the usage, engagement, cost and margin models. -#}

{#- Exact (interpolated, continuous) percentile of a numeric expression within a GROUP BY: DuckDB quantile_cont,
    PostgreSQL percentile_cont(...) within group. Never an average of percentiles. -#}
{% macro exact_percentile(expression, fraction) -%}
    {{ return(adapter.dispatch('exact_percentile')(expression, fraction)) }}
{%- endmacro %}

{% macro default__exact_percentile(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__exact_percentile(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{#- Several exact percentiles in one aggregate (one sort per group instead of one per percentile), returned as an
    array/list indexed from 1 in the order of `fractions`: DuckDB quantile_cont(expr, [..]), PostgreSQL
    percentile_cont(array[..]) within group. -#}
{% macro exact_percentiles(expression, fractions) -%}
    {{ return(adapter.dispatch('exact_percentiles')(expression, fractions)) }}
{%- endmacro %}

{% macro default__exact_percentiles(expression, fractions) -%}
    percentile_cont(array[{{ fractions | join(', ') }}]::double precision[]) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__exact_percentiles(expression, fractions) -%}
    quantile_cont({{ expression }}, [{{ fractions | join(', ') }}])
{%- endmacro %}

{#- The same exact (interpolated, continuous) percentile as exact_percentile, as an aggregate over rows that carry
    their 1-based rank by `value` within the group (row_number() over (... order by value)) and the group's count of
    non-null values (count(value) over (...)): position (count - 1) x fraction, interpolated between the values
    ranked floor(position) + 1 and ceil(position) + 1, in double precision like percentile_cont/quantile_cont.
    One sort of all rows instead of one sort per group, for groups of a few rows; NULL when all values are NULL. -#}
{% macro ranked_percentile(value, rank, count, fraction) -%}
    {%- set position = '(cast(' ~ count ~ ' - 1 as double precision) * cast(' ~ fraction ~ ' as double precision))' -%}
    {%- set low = 'max(case when ' ~ rank ~ ' = floor(' ~ position ~ ') + 1 then ' ~ value ~ ' end)' -%}
    {%- set high = 'max(case when ' ~ rank ~ ' = ceil(' ~ position ~ ') + 1 then ' ~ value ~ ' end)' -%}
    ({{ low }} + (max({{ position }}) - floor(max({{ position }}))) * ({{ high }} - {{ low }}))
{%- endmacro %}

{#- Milliseconds from start to end timestamp (bigint). -#}
{% macro milliseconds_between(start_expression, end_expression) -%}
    {{ return(adapter.dispatch('milliseconds_between')(start_expression, end_expression)) }}
{%- endmacro %}

{% macro default__milliseconds_between(start_expression, end_expression) -%}
    cast(round(extract(epoch from ({{ end_expression }} - {{ start_expression }})) * 1000) as bigint)
{%- endmacro %}

{% macro duckdb__milliseconds_between(start_expression, end_expression) -%}
    date_diff('millisecond', {{ start_expression }}, {{ end_expression }})
{%- endmacro %}

{#- The day window [first day, day after the last day) of this run's partition window, or none without one.
    Dagster passes run settings partition_start/partition_end ([start, end), ISO timestamps, see run_setting:
    environment variables, or --vars on a hand-run CLI); the window is widened to whole UTC days (a partial day
    would replace a whole day under delete+insert) and reaches back var('usage_lookback_days') extra days, so
    late-arriving rows of recent days are re-aggregated. -#}
{% macro usage_run_days() -%}
    {%- set start = run_setting('partition_start') -%}
    {%- set end = run_setting('partition_end') -%}
    {%- if not (start and end) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set datetime = modules.datetime -%}
    {%- set start_at = datetime.datetime.fromisoformat(start | string) -%}
    {%- set end_at = datetime.datetime.fromisoformat(end | string) -%}
    {%- set first_day = start_at.date() - datetime.timedelta(days=var('usage_lookback_days', 0) | int) -%}
    {%- set end_day = end_at.date() -%}
    {%- if end_at.time() != datetime.time(0, 0) -%}
        {%- set end_day = end_day + datetime.timedelta(days=1) -%}
    {%- endif -%}
    {{ return([first_day.isoformat(), end_day.isoformat()]) }}
{%- endmacro %}

{#- The days a daily-partitioned usage model (re)processes in this run: usage_run_days(), or none (everything) when
    there is no window or the model is built from scratch / with --full-refresh. -#}
{% macro usage_partition_days() -%}
    {{ return(usage_run_days() if is_incremental() else none) }}
{%- endmacro %}

{#- Predicate restricting a daily-partitioned usage model to its run's days (see usage_partition_days); `true`
    when the run processes everything. Works on a date or a timestamp column. -#}
{% macro usage_partition_filter(column) -%}
    {%- set days = usage_partition_days() -%}
    {%- if days is none -%}
        true
    {%- else -%}
        ({{ column }} >= cast('{{ days[0] }}' as timestamp) and {{ column }} < cast('{{ days[1] }}' as timestamp))
    {%- endif -%}
{%- endmacro %}

{#- Config shared by the daily-partitioned usage-event models: incremental, delete+insert on the day. -#}
{% macro usage_partitioned_config() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='usage_date',
        on_schema_change='append_new_columns',
        tags=['daily_partitioned'],
        indexes=([{'columns': ['usage_date']}] if target.type == 'postgres' else []),
    ) }}
{%- endmacro %}

{#- Usage segment of a customer (user_segments), first matching rule wins:
      dormant  no activity (login or request) in the 30 days up to the snapshot (or never active)
      at_risk  last activity more than 14 days ago, or active days fell below half of the previous 30 days
      power    at least 80% of the plan's token quota used in the month and active on >= 15 of the last 30 days
      active   everything else -#}
{% macro usage_segment(days_since_last_active, active_days_last_30d, active_days_prev_30d, quota_use_pct) -%}
    case
        when {{ days_since_last_active }} is null or {{ days_since_last_active }} >= 30 then 'dormant'
        when {{ days_since_last_active }} > 14
            or ({{ active_days_prev_30d }} > 0 and {{ active_days_last_30d }} * 2 < {{ active_days_prev_30d }})
            then 'at_risk'
        when {{ quota_use_pct }} >= 80 and {{ active_days_last_30d }} >= 15 then 'power'
        else 'active'
    end
{%- endmacro %}

{#- 100 * numerator / denominator as decimal(18, 2) (a percentage); NULL when the denominator is 0 or NULL.
    The double ratio is cast to decimal before rounding (PostgreSQL has no round(double, n)). -#}
{% macro percent_of(numerator, denominator) -%}
    cast(round(cast(100 * {{ safe_ratio(numerator, denominator) }} as decimal(38, 10)), 2) as decimal(18, 2))
{%- endmacro %}

{#- numerator / denominator rounded to `scale` decimals, as decimal(18, scale); NULL when the denominator is 0. -#}
{% macro decimal_ratio(numerator, denominator, scale=4) -%}
    cast(round(cast({{ safe_ratio(numerator, denominator) }} as decimal(38, 10)), {{ scale }}) as decimal(18, {{ scale }}))
{%- endmacro %}

{#- True when the database enforces that `column` alone is unique in `relation` (a primary key or unique
    constraint/index on exactly that column), checked while executing; false at parse time. Dispatched. -#}
{% macro enforces_unique_column(relation, column) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(adapter.dispatch('enforces_unique_column')(relation, column)) }}
{%- endmacro %}

{% macro default__enforces_unique_column(relation, column) -%}
    {{ return(false) }}
{%- endmacro %}

{% macro postgres__enforces_unique_column(relation, column) -%}
    {%- set found = run_query(
        "select 1 from pg_index as i join pg_class as t on t.oid = i.indrelid"
        ~ " join pg_namespace as n on n.oid = t.relnamespace"
        ~ " join pg_attribute as a on a.attrelid = t.oid and a.attnum = i.indkey[0]"
        ~ " where i.indisunique and i.indnatts = 1 and i.indpred is null and i.indexprs is null"
        ~ " and n.nspname = '" ~ relation.schema ~ "' and t.relname = '" ~ relation.identifier
        ~ "' and a.attname = '" ~ column ~ "'"
    ) -%}
    {{ return(found.rows | length > 0) }}
{%- endmacro %}

{% macro duckdb__enforces_unique_column(relation, column) -%}
    {%- set found = run_query(
        "select 1 from duckdb_constraints() where constraint_type in ('PRIMARY KEY', 'UNIQUE')"
        ~ " and database_name = '" ~ relation.database ~ "' and schema_name = '" ~ relation.schema
        ~ "' and table_name = '" ~ relation.identifier ~ "' and constraint_column_names = ['" ~ column ~ "']"
    ) -%}
    {{ return(found.rows | length > 0) }}
{%- endmacro %}
