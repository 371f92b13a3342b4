"""Weekly usage & cost report (ISO week): usage, cost against forecast, margins, performance, anomalies."""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration.reporting import charts
from orchestration.reporting.content import ALERT_COLUMNS, Chart, Column, Kpi, ReportContent, Section, Table, plain
from orchestration.reporting.definitions import USAGE_DEFINITIONS
from orchestration.reporting.formatting import format_change, integer, money, month_label, plural
from orchestration.reporting.frames import SEVERITY_ORDER, as_timestamps, sort_by_rank
from orchestration.reporting.specs import WEEKLY_USAGE_COST, WeeklyUsageData, iso_week_bounds, iso_week_label

TREND_WEEKS = 12
FORECAST_WEEKS_AHEAD = 4
TOP_CUSTOMERS = 10
CHART_MODELS = 15


def _change(current: pd.Series, prior: pd.Series) -> pd.Series:
    return (current / prior.where(prior != 0) - 1).astype(float)


def _usage_tables(usage: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    by_model = usage.copy()
    by_service = usage.groupby("service", as_index=False)[
        ["requests", "total_tokens", "cost_usd", "requests_prev_week", "total_tokens_prev_week", "cost_usd_prev_week"]
    ].sum()
    for frame in (by_model, by_service):
        frame["requests_change"] = _change(frame["requests"], frame["requests_prev_week"])
        frame["tokens_change"] = _change(frame["total_tokens"], frame["total_tokens_prev_week"])
        frame["cost_change"] = _change(frame["cost_usd"], frame["cost_usd_prev_week"])
    order = ["cost_usd", "service"]
    by_model = by_model.sort_values([*order, "model"], ascending=[False, True, True], kind="mergesort")
    return by_model, by_service.sort_values(order, ascending=[False, True], kind="mergesort")


def _usage_columns(first: list[Column]) -> list[Column]:
    return [
        *first,
        Column("requests", "Requests", "int"),
        Column("requests_change", "Requests WoW", "pct_change"),
        Column("total_tokens", "Tokens", "int"),
        Column("tokens_change", "Tokens WoW", "pct_change"),
        Column("cost_usd", "Cost", "money_precise"),
        Column("cost_usd_prev_week", "Cost prev. week", "money_precise"),
        Column("cost_change", "Cost WoW", "pct_change"),
    ]


def _sum_if_complete(days: pd.Series) -> float:
    """A week's total, or NaN when a day is missing (a partial week would read as a drop)."""
    return days.sum() if days.notna().all() else np.nan


def _weekly_cost(data: WeeklyUsageData, sunday: pd.Timestamp) -> pd.DataFrame:
    """Actual cost per ISO week against the forecast run-rate (monthly forecast spread evenly over its days)."""
    first_monday = sunday - pd.Timedelta(days=7 * TREND_WEEKS - 1)
    last_day = sunday + pd.Timedelta(days=7 * FORECAST_WEEKS_AHEAD)
    days = pd.DataFrame({"day": pd.date_range(first_monday, last_day, freq="D")})
    daily = as_timestamps(data.cost_daily, "day").groupby("day", as_index=False)["cost_usd"].sum()
    days = days.merge(daily, on="day", how="left")
    days.loc[days["day"] > sunday, "cost_usd"] = np.nan
    forecast = as_timestamps(data.cost_forecast, "month")
    days["month"] = days["day"].dt.to_period("M").dt.to_timestamp()
    days = days.merge(forecast[["month", "mean", "lo_80", "hi_80"]], on="month", how="left")
    per_day = days["day"].dt.days_in_month
    for column in ("mean", "lo_80", "hi_80"):
        days[column] = days[column] / per_day
    days["week_start"] = days["day"] - pd.to_timedelta(days["day"].dt.weekday, unit="D")
    weeks = days.groupby("week_start", as_index=False).agg(
        actual=("cost_usd", _sum_if_complete),
        forecast_mean=("mean", _sum_if_complete),
        forecast_lo_80=("lo_80", _sum_if_complete),
        forecast_hi_80=("hi_80", _sum_if_complete),
    )
    weeks["week"] = [iso_week_label(d.date()) for d in weeks["week_start"]]
    weeks["vs_forecast"] = (weeks["actual"] / weeks["forecast_mean"] - 1).astype(float)
    return weeks


def _performance(perf: pd.DataFrame, monday: pd.Timestamp, sunday: pd.Timestamp) -> pd.DataFrame:
    perf = perf.assign(failed=perf["requests"] * perf["error_rate"])
    this_week = perf.loc[(perf["day"] >= monday) & (perf["day"] <= sunday)]
    last_week = perf.loc[(perf["day"] >= monday - pd.Timedelta(days=7)) & (perf["day"] < monday)]
    current = this_week.groupby("service").agg(
        requests=("requests", "sum"),
        failed=("failed", "sum"),
        p50_worst_day=("latency_p50_ms", "max"),
        p95_worst_day=("latency_p95_ms", "max"),
        p99_worst_day=("latency_p99_ms", "max"),
    )
    prior = last_week.groupby("service").agg(
        requests_prev=("requests", "sum"), failed_prev=("failed", "sum"), p95_prev=("latency_p95_ms", "max")
    )
    table = current.join(prior, how="left").reset_index()
    table["error_rate"] = table["failed"] / table["requests"]
    table["error_rate_prev_week"] = table["failed_prev"] / table["requests_prev"]
    return table.sort_values("service")


def build(data: WeeklyUsageData, *, mask_names: bool) -> ReportContent:
    """`mask_names` is accepted for a uniform API; this report shows customer ids only, never names."""
    del mask_names
    data.validate()
    data = data.normalized()
    monday_date, sunday_date = iso_week_bounds(data.period)
    monday, sunday = pd.Timestamp(monday_date), pd.Timestamp(sunday_date)
    currency = data.currency
    by_model, by_service = _usage_tables(data.usage_by_model)
    weeks = _weekly_cost(data, sunday)
    margin = data.customer_margin.copy()
    margin_month = pd.to_datetime(margin["month"]).max() if len(margin) else None
    top_cost = margin.sort_values(["usage_cost", "customer_id"], ascending=[False, True], kind="mergesort")
    top_cost = top_cost.head(TOP_CUSTOMERS)
    negative = margin.loc[margin["gross_margin"] < 0].sort_values(["gross_margin", "customer_id"], kind="mergesort")
    perf = _performance(as_timestamps(data.service_performance, "day"), monday, sunday)
    alerts = as_timestamps(data.metric_alerts, "day")
    alerts = alerts.loc[(alerts["day"] >= monday) & (alerts["day"] <= sunday)]
    alerts = sort_by_rank(alerts, "severity", SEVERITY_ORDER, ["day", "metric"], [True, True])
    recs = data.cost_recommendations.sort_values(
        ["estimated_monthly_saving_usd", "recommendation_type", "scope"],
        ascending=[False, True, True],
        kind="mergesort",
    )

    cost, cost_prev = float(by_model["cost_usd"].sum()), float(by_model["cost_usd_prev_week"].sum())
    requests, requests_prev = float(by_model["requests"].sum()), float(by_model["requests_prev_week"].sum())
    tokens, tokens_prev = float(by_model["total_tokens"].sum()), float(by_model["total_tokens_prev_week"].sum())
    savings = float(recs["estimated_monthly_saving_usd"].sum())
    this_week = weeks.loc[weeks["week_start"] == monday].iloc[0]
    cards = [
        Kpi("Cost", cost, "money", prior_month=cost_prev, higher_is_better=False),
        Kpi("Requests", requests, "int", prior_month=requests_prev),
        Kpi("Tokens", tokens, "int", prior_month=tokens_prev),
        Kpi("Cost vs forecast", plain(this_week["vs_forecast"]), "pct_change"),  # type: ignore[arg-type]
        Kpi("Customers with negative margin", float(len(negative)), "int"),
        Kpi("Savings recommended (per month)", savings, "money"),
    ]
    label = f"{data.period} ({monday_date:%d %b} – {sunday_date:%d %b %Y})"
    margin_label = month_label(margin_month)
    charted = by_model.head(CHART_MODELS)  # the long tail of near-zero pairs would only stretch the chart
    model_labels = [f"{s} · {m}" for s, m in zip(charted["service"], charted["model"], strict=True)]
    sections = [
        Section(
            title="Usage and cost by service and model",
            anchor="usage",
            intro="This week against the previous ISO week (WoW = week-over-week change).",
            charts=[
                Chart(
                    title="Cost by model",
                    image_uri=charts.bars_vs_prior(
                        model_labels,
                        charted["cost_usd"],
                        charted["cost_usd_prev_week"],
                        f"Cost by service and model (top {len(charted)} by cost)",
                        currency,
                    ),
                    alt="Horizontal bars of cost per service and model, this week and the previous week.",
                )
            ],
            tables=[
                Table("usage_by_service", "By service", _usage_columns([Column("service", "Service")]), by_service),
                Table(
                    "usage_by_model",
                    "By service and model",
                    _usage_columns([Column("service", "Service"), Column("model", "Model")]),
                    by_model,
                ),
            ],
        ),
        Section(
            title="Cost trend against forecast",
            anchor="trend",
            intro="Weekly cost; the forecast is the monthly usage-cost forecast spread evenly over its days.",
            charts=[
                Chart(
                    title="Weekly cost vs forecast",
                    image_uri=charts.weekly_vs_forecast(weeks, "Weekly cost against forecast", currency),
                    alt="Weekly cost bars with the forecast run-rate and its 80% band.",
                )
            ],
            tables=[
                Table(
                    name="cost_trend",
                    title="Weekly cost and forecast",
                    frame=weeks.sort_values("week_start"),
                    columns=[
                        Column("week", "Week"),
                        Column("week_start", "Starts", "date"),
                        Column("actual", "Actual cost", "money"),
                        Column("forecast_mean", "Forecast", "money"),
                        Column("forecast_lo_80", "80% low", "money"),
                        Column("forecast_hi_80", "80% high", "money"),
                        Column("vs_forecast", "Actual vs forecast", "pct_change"),
                    ],
                )
            ],
        ),
        Section(
            title="Customers: cost and margin",
            anchor="customers",
            intro=f"Customer margins for {margin_label} (month to date while the month is open).",
            tables=[
                Table(
                    "top_customers_by_cost", f"Top {TOP_CUSTOMERS} customers by usage cost", _margin_columns(), top_cost
                ),
                Table(
                    "negative_margin_customers",
                    "Customers with negative gross margin",
                    _margin_columns(),
                    negative,
                    empty_text="No customer has a negative margin.",
                ),
            ],
        ),
        Section(
            title="Latency and errors by service",
            anchor="performance",
            intro="Daily exact percentiles; the table shows each service's worst day of the week.",
            charts=[
                Chart(
                    title="Latency and error rate",
                    image_uri=charts.service_panels(
                        as_timestamps(data.service_performance, "day"), "Latency and error rate, last 14 days"
                    ),
                    alt="Daily p95 latency and error rate per service.",
                )
            ],
            tables=[
                Table(
                    name="service_performance",
                    title="Service performance this week",
                    frame=perf,
                    columns=[
                        Column("service", "Service"),
                        Column("requests", "Requests", "int"),
                        Column("error_rate", "Error rate", "pct"),
                        Column("error_rate_prev_week", "Error rate prev. week", "pct"),
                        Column("p50_worst_day", "p50 ms (worst day)", "number"),
                        Column("p95_worst_day", "p95 ms (worst day)", "number"),
                        Column("p99_worst_day", "p99 ms (worst day)", "number"),
                    ],
                )
            ],
        ),
        Section(
            title="Anomalies this week",
            anchor="anomalies",
            tables=[
                Table(
                    name="anomalies",
                    title="Anomalies",
                    frame=alerts,
                    columns=list(ALERT_COLUMNS),
                    empty_text="No anomalies this week.",
                )
            ],
        ),
        Section.of_table(
            Table(
                name="cost_recommendations",
                title="Cost recommendations",
                frame=recs,
                columns=[
                    Column("recommendation_type", "Recommendation"),
                    Column("scope", "Scope"),
                    Column("customer_id", "Customer ID"),
                    Column("estimated_monthly_saving_usd", "Est. saving / month", "money"),
                    Column("evidence", "Evidence", wrap=True),
                ],
                empty_text="No recommendations.",
            ),
            anchor="recommendations",
        ),
    ]
    summary: dict[str, object] = {
        "cost_usd": cost,
        "cost_usd_prev_week": cost_prev,
        "cost_change": plain(cards[0].mom),
        "requests": int(requests),
        "total_tokens": int(tokens),
        "cost_vs_forecast": plain(this_week["vs_forecast"]),
        "negative_margin_customers": len(negative),
        "anomalies": len(alerts),
        "estimated_monthly_savings_usd": savings,
    }
    highlights = [
        f"Cost {money(cost, currency)} ({format_change(cards[0].mom, 'pct')} WoW) for {integer(requests)} requests "
        f"and {integer(tokens)} tokens.",
        f"{plural(len(negative), 'customer')} with negative margin; {plural(len(alerts), 'anomaly', 'anomalies')}; "
        f"recommendations could save {money(savings, currency)} a month.",
    ]
    return ReportContent(
        report=WEEKLY_USAGE_COST,
        period=data.period,
        title="Weekly usage & cost",
        subtitle=label,
        currency=currency,
        kpis=cards,
        sections=sections,
        summary=summary,
        definitions=USAGE_DEFINITIONS,
        highlights=highlights,
        change_labels=("vs previous week",),
    )


def _margin_columns() -> list[Column]:
    return [
        Column("customer_id", "Customer ID"),
        Column("mrr", "MRR", "money"),
        Column("usage_revenue", "Usage revenue", "money"),
        Column("usage_cost", "Usage cost", "money"),
        Column("gross_margin", "Gross margin", "money"),
        Column("margin_pct", "Margin %", "percent"),
    ]
