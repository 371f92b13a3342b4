{#- Trailing windows of daily rows relative to month-end snapshots, for the churn features. -#}

{#- Trailing windows by name: days before the snapshot day, first and last (0 = the snapshot day itself). -#}
{% macro snapshot_window_days() -%}
    {{ return({'7d': [0, 6], '30d': [0, 29], 'prev_30d': [30, 59], 'prev_90d': [30, 119]}) }}
{%- endmacro %}

{#- One row per snapshot of `snapshots` (customer_id, snapshot_month, snapshot_date) with window sums of daily columns
    of `relation`: `sums` maps a column to window names of snapshot_window_days; output column <column>_<window>,
    e.g. requests_prev_90d (0 where the window has no rows).
    Running sums instead of copying each daily row into every window that contains it: the snapshots' window edges
    join the daily rows as zero-valued rows sorted after that day's rows, one running sum per customer in day
    order reads the total up to each edge, and a window [first, last] days before the snapshot is the difference
    of the totals at snapshot_date - first and at snapshot_date - last - 1. One sort of the daily rows plus five
    edges per snapshot, where the copies made four to five times the daily rows to sort and group (PostgreSQL
    spent most of customer_features_monthly there). -#}
{% macro snapshot_window_sums(relation, day_column, sums, snapshots='snapshots') -%}
    {%- set windows = snapshot_window_days() -%}
    {%- set outputs = [] -%}
    {%- set edges = [] -%}
    {%- for column, names in sums.items() -%}
        {%- for name in names -%}
            {%- set first_day, last_day = windows[name] -%}
            {%- do outputs.append([column, name, first_day, last_day + 1]) -%}
            {%- for edge in [first_day, last_day + 1] if edge not in edges -%}
                {%- do edges.append(edge) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set columns = sums.keys() | list -%}
    select
        customer_id,
        snapshot_month,
        {%- for column, name, first_edge, last_edge in outputs %}
        max(case when edge_days = {{ first_edge }} then running_{{ column }} end)
            - max(case when edge_days = {{ last_edge }} then running_{{ column }} end)
            as {{ column }}_{{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from (
        select
            customer_id,
            snapshot_month,
            is_edge,
            edge_days,
            {%- for column in columns %}
            sum({{ column }}) over (
                partition by customer_id order by day, is_edge rows between unbounded preceding and current row
            ) as running_{{ column }}{{ "," if not loop.last }}
            {%- endfor %}
        from (
            select
                customer_id,
                {{ day_column }} as day,
                0 as is_edge,
                cast(null as date) as snapshot_month,
                cast(null as integer) as edge_days,
                {%- for column in columns %}
                {{ column }}{{ "," if not loop.last }}
                {%- endfor %}
            from {{ relation }}
            where customer_id in (select customer_id from {{ snapshots }})
            union all
            select
                snapshots.customer_id,
                snapshots.snapshot_date - edges.edge_days as day,
                1 as is_edge,
                snapshots.snapshot_month,
                edges.edge_days,
                {%- for column in columns %}
                0{{ "," if not loop.last }}
                {%- endfor %}
            from {{ snapshots }} as snapshots
            cross join (
                {%- for edge in edges | sort %}
                select {{ edge }} as edge_days{{ " union all" if not loop.last }}
                {%- endfor %}
            ) as edges
        ) as days_and_edges
    ) as running
    where is_edge = 1
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
