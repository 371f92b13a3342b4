{#- Overrides dbt's get_where_subquery (the documented way to give a test's `where` config run-time values).
    A data test of a daily-partitioned usage model configured with where: "__usage_run_days__" checks only the
    days this run re-processed (usage_run_days(); every row when the run has no partition window), so a daily
    run does not re-test a year of rows it did not touch. Any other `where` behaves as in dbt. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where == '__usage_run_days__' -%}
        {%- set days = usage_run_days() -%}
        {%- set where = none if days is none else
            "usage_date >= cast('" ~ days[0] ~ "' as date) and usage_date < cast('" ~ days[1] ~ "' as date)" -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
