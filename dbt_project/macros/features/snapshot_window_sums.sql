{#- Trailing windows of daily rows relative to month-end snapshots, for the churn features: no range join over
    customers x months, each daily row is matched by an equi-join to the few month ends within `days` after it. -#}

{#- Daily rows of `relation` (columns customer_id, `day_column` and `columns`) with each snapshot month whose last
    day is 0 .. days - 1 days after the row's day: snapshot_month (first day of that month) and days_before (0 = the
    snapshot day itself). A month end is at least 28 days after the previous one, so days // 28 + 1 months suffice. -#}
{% macro snapshot_windows(relation, day_column, columns, days) -%}
    {%- set snapshot_month = add_months(month_start('daily.' ~ day_column), 'offsets.month_offset') -%}
    select *
    from (
        select
            daily.customer_id,
            {{ snapshot_month }} as snapshot_month,
            {{ days_between('daily.' ~ day_column, month_end(snapshot_month)) }} as days_before,
            {%- for column in columns %}
            daily.{{ column }}{{ "," if not loop.last }}
            {%- endfor %}
        from {{ relation }} as daily
        cross join (
            {%- for offset in range(days // 28 + 1) %}
            select {{ offset }} as month_offset{{ " union all" if not loop.last }}
            {%- endfor %}
        ) as offsets
    ) as windowed
    where days_before between 0 and {{ days - 1 }}
{%- endmacro %}

{#- Trailing windows by name: days before the snapshot day, first and last (0 = the snapshot day itself). -#}
{% macro snapshot_window_days() -%}
    {{ return({'7d': [0, 6], '30d': [0, 29], 'prev_30d': [30, 59], 'prev_90d': [30, 119]}) }}
{%- endmacro %}

{#- One row per customer and snapshot month with window sums of daily columns of `relation`: `sums` maps a column to
    window names of snapshot_window_days; output column <column>_<window>, e.g. requests_prev_90d. -#}
{% macro snapshot_window_sums(relation, day_column, sums) -%}
    {%- set windows = snapshot_window_days() -%}
    {%- set outputs = [] -%}
    {%- for column, names in sums.items() -%}
        {%- for name in names -%}
            {%- do outputs.append([column, name] + windows[name]) -%}
        {%- endfor -%}
    {%- endfor -%}
    select
        customer_id,
        snapshot_month,
        {%- for column, name, first_day, last_day in outputs %}
        sum(case when days_before between {{ first_day }} and {{ last_day }} then {{ column }} else 0 end)
            as {{ column }}_{{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from (
        {{ snapshot_windows(relation, day_column, sums.keys() | list, outputs | map(attribute=3) | max + 1) }}
    ) as windows
    group by customer_id, snapshot_month
{%- endmacro %}

{#- How far a daily rate fell below its usual level, in logs: ln((usual + 1) / (recent + 1)) when positive, else 0
    (growth is no decline). recent / usual: totals over `recent_days` / `usual_days`, compared per day. -#}
{% macro decline_vs_usual(recent_total, recent_days, usual_total, usual_days) -%}
    greatest(
        ln(
            (cast({{ usual_total }} as double precision) / {{ usual_days }} + 1)
            / (cast({{ recent_total }} as double precision) / {{ recent_days }} + 1)
        ),
        0
    )
{%- endmacro %}
