{#- A per-run setting (as_of_date, partition_start, partition_end): var(name) when given with --vars (a hand-run
    CLI), else the environment variable DBT_RUN_<NAME> (how Dagster passes it, orchestration/dbt_args.py), else ''.
    Why the environment: dbt re-parses the whole project whenever --vars change (every daily run), while a
    changed environment variable only re-parses the files that read it. This one is read only while executing
    (`execute`), so no file records it at parse time and partial parsing survives every new day. -#}
{% macro run_setting(name) -%}
    {%- set value = var(name, '') -%}
    {%- if not value and execute -%}
        {%- set value = env_var('DBT_RUN_' ~ (name | upper), '') -%}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}
