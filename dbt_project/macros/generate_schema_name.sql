{#- Custom schemas are used literally (staging, intermediate, marts), not prefixed with the target schema:
    the warehouse has exactly the schemas raw, staging, intermediate, marts, ml, reports. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
