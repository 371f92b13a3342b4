{#- Column helpers for the staging layer (rename, cast, convert; no business logic). -#}

{#- ISO 4217 currencies without minor units: their *_amount_cents already are whole units. -#}
{% macro zero_decimal_currencies() -%}
    {{ return(['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV',
               'XAF', 'XOF', 'XPF']) }}
{%- endmacro %}

{#- Integer minor units -> decimal(18,2) currency units. Multiplying by 0.01 keeps decimal arithmetic exact on
    both engines (DuckDB turns decimal division into a double). -#}
{% macro cents_to_units(cents_column, currency_column) -%}
    cast(
        case
            when upper({{ currency_column }}) in (
                {%- for code in zero_decimal_currencies() %}'{{ code }}'{{ ', ' if not loop.last }}{% endfor -%}
            )
                then cast({{ cents_column }} as decimal(18, 2))
            else cast({{ cents_column }} as decimal(18, 2)) * 0.01
        end
        as decimal(18, 2)
    )
{%- endmacro %}

{#- Sources write '' for "no value" (LiteLLM, Keycloak); the warehouse uses NULL. -#}
{% macro nullif_empty(column) -%}
    nullif({{ column }}, '')
{%- endmacro %}

{#- Lower-case domain part of an e-mail address (NULL when there is none). -#}
{% macro email_domain(email_column) -%}
    nullif(lower(split_part(nullif({{ email_column }}, ''), '@', 2)), '')
{%- endmacro %}

{#- True when the domain is one of var('internal_email_domains') (internal/test accounts); never NULL. -#}
{% macro is_internal_domain(domain_expression) -%}
    {%- set domains = var('internal_email_domains', []) -%}
    {%- if domains is string -%}{%- set domains = domains.split(',') -%}{%- endif -%}
    {%- if domains | length == 0 -%}
        false
    {%- else -%}
        coalesce({{ domain_expression }} in (
            {%- for domain in domains %}'{{ domain | trim | lower }}'{{ ', ' if not loop.last }}{% endfor -%}
        ), false)
    {%- endif -%}
{%- endmacro %}

{#- Integer enum code -> name, from a {code: name} mapping (var('source_enums')[...]). An unknown code comes
    out as its digits, so accepted_values tests catch it instead of it silently turning NULL. -#}
{% macro enum_name(column, mapping) -%}
    case {{ column }}
        {%- for code, name in mapping.items() %}
        when {{ code }} then '{{ name }}'
        {%- endfor %}
        else cast({{ column }} as varchar)
    end
{%- endmacro %}

{#- Epoch milliseconds (bigint) -> timestamp without time zone (UTC). -#}
{% macro epoch_ms_to_timestamp(column) -%}
    {{ return(adapter.dispatch('epoch_ms_to_timestamp')(column)) }}
{%- endmacro %}

{% macro default__epoch_ms_to_timestamp(column) -%}
    (timestamp '1970-01-01 00:00:00' + {{ column }} * interval '1 millisecond')
{%- endmacro %}

{% macro duckdb__epoch_ms_to_timestamp(column) -%}
    epoch_ms(cast({{ column }} as bigint))
{%- endmacro %}

{#- Text value of a top-level key of a JSON text column (NULL for '' / NULL input or a missing key). -#}
{% macro json_text(column, key) -%}
    {{ return(adapter.dispatch('json_text')(column, key)) }}
{%- endmacro %}

{% macro default__json_text(column, key) -%}
    (cast(nullif({{ column }}, '') as json) ->> '{{ key }}')
{%- endmacro %}

{% macro duckdb__json_text(column, key) -%}
    json_extract_string(nullif({{ column }}, ''), '$.{{ key }}')
{%- endmacro %}
