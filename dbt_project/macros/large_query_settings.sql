{#- PostgreSQL tuning of the models that sort, hash or join millions of rows (dbt_project.yml applies both hooks to
    the usage, engagement and KPI folders); both dispatched, nothing on DuckDB (it sizes its memory itself and
    keeps its own statistics). -#}

{#- Pre-hook: session settings inside the model's transaction (`local` ends with it). PostgreSQL: `work_mem` (the
    4MB default makes every large sort and hash aggregate spill to disk) and no JIT (these plans carry hundreds of
    expressions: compiling them took 4 s of customer_features_monthly's 45 s, more than it saved). -#}
{% macro large_query_settings(work_mem='256MB') -%}
    {{ return(adapter.dispatch('large_query_settings')(work_mem)) }}
{%- endmacro %}

{% macro default__large_query_settings(work_mem) -%}
{%- endmacro %}

{% macro postgres__large_query_settings(work_mem) -%}
    set local work_mem = '{{ work_mem }}'; set local jit = off
{%- endmacro %}

{#- Post-hook: planner statistics of the model just built. PostgreSQL has none for a new table until autovacuum
    gets to it (never, when it is off), so the next models in the same run were planned on guesses (e.g. a
    merge join sorting 10M rows where a hash join on a small side fits in memory). -#}
{% macro refresh_planner_statistics() -%}
    {{ return(adapter.dispatch('refresh_planner_statistics')()) }}
{%- endmacro %}

{% macro default__refresh_planner_statistics() -%}
{%- endmacro %}

{% macro postgres__refresh_planner_statistics() -%}
    analyze {{ this }}
{%- endmacro %}
