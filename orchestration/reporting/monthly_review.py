"""Monthly business review (last closed month): content built from the revenue marts and ml outputs."""

from __future__ import annotations

import math

import pandas as pd

from orchestration.reporting import charts
from orchestration.reporting.churn_snapshot import ChurnSnapshot
from orchestration.reporting.content import ALERT_COLUMNS, Chart, Column, Kpi, ReportContent, Section, Table, plain
from orchestration.reporting.definitions import MONTHLY_DEFINITIONS
from orchestration.reporting.formatting import format_change, money, month_label, pct, plural
from orchestration.reporting.frames import (
    SEVERITY_ORDER,
    as_timestamps,
    mask_customer_names,
    optional_row,
    row_for,
    sort_by_rank,
)
from orchestration.reporting.specs import MONTHLY_BUSINESS_REVIEW, MonthlyReviewData, ReportDataError, month_start

TREND_MONTHS = 24
SHORT_TREND_MONTHS = 12
COHORTS_SHOWN = 12
AT_RISK_ROWS = 10
IDENTITY_TOLERANCE = 0.01  # currency units; the marts hold cents

MOVEMENT_STEPS = [
    ("new_mrr", "New"),
    ("reactivation_mrr", "Reactivation"),
    ("expansion_mrr", "Expansion"),
    ("contraction_mrr", "Contraction"),
    ("churned_mrr", "Churn"),
    ("fx_adjustment", "FX"),
]
# (kpi column, label, kind, change kind, higher is better)
HEADLINE_KPIS = [
    ("mrr", "MRR", "money", "pct", True),
    ("arr", "ARR", "money", "pct", True),
    ("paying_customers", "Paying customers", "int", "pct", True),
    ("nrr", "NRR (trailing 12 months)", "pct", "pp", True),
    ("grr", "GRR (trailing 12 months)", "pct", "pp", True),
    ("logo_churn_rate", "Logo churn rate", "pct", "pp", False),
    ("quick_ratio", "Quick ratio", "ratio", "abs", True),
    ("arpa", "ARPA", "money", "pct", True),
    ("gross_margin_pct", "Gross margin %", "pct", "pp", True),
]
PERCENT_COLUMNS = {"gross_margin_pct"}  # 0-100 in the marts; KPI cards show every rate as a fraction


def _number(value: object, column: str = "") -> float | None:
    value = plain(value)
    if value is None:
        return None
    return float(value) / 100 if column in PERCENT_COLUMNS else float(value)  # type: ignore[arg-type]


def _kpis(kpi: pd.DataFrame, month: pd.Timestamp) -> tuple[list[Kpi], pd.Series]:
    current = row_for(kpi, "month", month, "kpi_monthly")
    if not bool(current["is_closed_month"]):
        raise ReportDataError(
            f"kpi_monthly month {month.date():%Y-%m} is not closed (month to date); "
            "the monthly review covers closed months only"
        )
    prior_month = optional_row(kpi, "month", month - pd.DateOffset(months=1))
    prior_year = optional_row(kpi, "month", month - pd.DateOffset(months=12))
    cards = [
        Kpi(
            label=label,
            value=_number(current[column], column),
            kind=kind,  # type: ignore[arg-type]
            prior_month=None if prior_month is None else _number(prior_month[column], column),
            prior_year=None if prior_year is None else _number(prior_year[column], column),
            change_kind=change,  # type: ignore[arg-type]
            higher_is_better=better,
        )
        for column, label, kind, change, better in HEADLINE_KPIS
    ]
    return cards, current


def _kpi_table(cards: list[Kpi]) -> Table:
    frame = pd.DataFrame(
        [
            {
                "metric": card.label,
                "unit": card.kind,
                "value": card.value,
                "prior_month": card.prior_month,
                "mom_change": card.mom,
                "prior_year": card.prior_year,
                "yoy_change": card.yoy,
                "change_unit": {"pct": "relative %", "pp": "percentage points", "abs": "difference"}[card.change_kind],
                "change_kind": "number" if card.change_kind == "abs" else "pct",
            }
            for card in cards
        ]
    )
    return Table(
        name="headline_kpis",
        title="Headline KPIs",
        frame=frame,
        columns=[
            Column("metric", "Metric"),
            Column("value", "Value", kind_from="unit"),
            Column("prior_month", "Prior month", kind_from="unit"),
            Column("mom_change", "Change vs prior month", kind_from="change_kind"),
            Column("prior_year", "Same month last year", kind_from="unit"),
            Column("yoy_change", "Change vs prior year", kind_from="change_kind"),
            Column("change_unit", "Change unit"),
        ],
        show_in_html=False,
    )


def _movements(data: MonthlyReviewData, month: pd.Timestamp, kpi_row: pd.Series) -> tuple[Section, dict[str, float]]:
    movements = as_timestamps(data.mrr_movements, "month")
    row = row_for(movements, "month", month, "mrr_movements")
    values = {c: float(row[c]) for c in ["starting_mrr", "ending_mrr", *[c for c, _ in MOVEMENT_STEPS]]}
    computed = values["starting_mrr"] + sum(values[c] for c, _ in MOVEMENT_STEPS)
    if abs(computed - values["ending_mrr"]) > IDENTITY_TOLERANCE:
        raise ReportDataError(
            f"mrr_movements {month.date():%Y-%m}: starting + movements = {computed:.2f} but ending_mrr = "
            f"{values['ending_mrr']:.2f} (the movement identity must hold exactly)"
        )
    if abs(values["ending_mrr"] - float(kpi_row["mrr"])) > IDENTITY_TOLERANCE:
        raise ReportDataError(
            f"mrr_movements {month.date():%Y-%m}: ending_mrr {values['ending_mrr']:.2f} differs from "
            f"kpi_monthly mrr {float(kpi_row['mrr']):.2f}"
        )
    table = Table(
        name="mrr_movements",
        title="MRR movement",
        frame=pd.DataFrame(
            [{"movement": "Starting MRR", "amount": values["starting_mrr"]}]
            + [{"movement": label, "amount": values[c]} for c, label in MOVEMENT_STEPS]
            + [{"movement": "Ending MRR", "amount": values["ending_mrr"]}]
        ),
        columns=[Column("movement", "Movement"), Column("amount", "Amount", "money")],
    )
    chart = Chart(
        title="MRR movement",
        image_uri=charts.waterfall(
            ("Starting", values["starting_mrr"]),
            [(label, values[c]) for c, label in MOVEMENT_STEPS],
            ("Ending", values["ending_mrr"]),
            f"MRR movement, {month_label(month)}",
            data.currency,
        ),
        alt="Waterfall from starting to ending MRR through new, reactivation, expansion, contraction, churn and FX.",
    )
    section = Section(
        title="MRR movement",
        anchor="movement",
        intro="Constant-currency movements; FX shows what exchange-rate changes added. Ending = starting + movements.",
        charts=[chart],
        tables=[table],
    )
    return section, values


def _forecast_from(data: MonthlyReviewData, month: pd.Timestamp) -> tuple[pd.DataFrame, str]:
    """The MRR forecast made from `month` and the section's intro.

    ml.mrr_forecast holds the latest forecast only. In the review of an earlier month it would be a forecast made
    months later, drawn as if from that month: it is left out (the forecast of that time is not kept)."""
    forecast = as_timestamps(data.mrr_forecast, "month")
    forecast = forecast.loc[forecast["month"] > month].sort_values("month")
    if len(forecast) and forecast["month"].iloc[0] != month + pd.DateOffset(months=1):
        first = month_label(forecast["month"].iloc[0])
        return forecast.iloc[0:0], f"Month-end MRR; the stored forecast starts in {first}, so it is not shown."
    models = sorted(forecast["model"].dropna().astype(str).unique())
    return forecast, "Month-end MRR" + (f"; forecast model: {', '.join(models)}." if models else ".")


def _trend(data: MonthlyReviewData, kpi: pd.DataFrame, month: pd.Timestamp) -> Section:
    history = kpi.loc[(kpi["month"] <= month) & kpi["is_closed_month"].astype(bool)].sort_values("month")
    history = history.tail(TREND_MONTHS)
    forecast, intro = _forecast_from(data, month)
    frame = pd.concat(
        [
            history[["month", "mrr"]],
            forecast[["month", "mean", "lo_80", "hi_80", "lo_95", "hi_95"]].rename(columns={"mean": "forecast_mean"}),
        ],
        ignore_index=True,
    )
    chart = Chart(
        title="MRR trend and forecast",
        image_uri=charts.forecast_fan(
            history.set_index("month")["mrr"],
            forecast,
            f"MRR, last {len(history)} months" + (" and 12-month forecast" if len(forecast) else ""),
            data.currency,
            actual_label="MRR",
        ),
        alt="MRR per month" + (" with the forecast mean and 80% and 95% bands." if len(forecast) else "."),
    )
    money_cols = [
        ("forecast_mean", "Forecast"),
        ("lo_80", "80% low"),
        ("hi_80", "80% high"),
        ("lo_95", "95% low"),
        ("hi_95", "95% high"),
    ]
    return Section(
        title="MRR trend and forecast",
        anchor="trend",
        intro=intro,
        charts=[chart],
        tables=[
            Table(
                name="mrr_trend",
                title="MRR trend and forecast",
                frame=frame,
                columns=[Column("month", "Month", "month"), Column("mrr", "MRR", "money")]
                + [Column(c, label, "money") for c, label in money_cols],
                show_in_html=False,
            )
        ],
    )


def _plan_mix(data: MonthlyReviewData, month: pd.Timestamp) -> Section:
    plans = as_timestamps(data.mrr_by_plan, "month")
    recent = plans.loc[(plans["month"] <= month) & (plans["month"] > month - pd.DateOffset(months=SHORT_TREND_MONTHS))]
    pivot = recent.pivot_table(index="month", columns="tier", values="mrr", aggfunc="sum").fillna(0.0)
    pivot = pivot[pivot.loc[pivot.index.max()].sort_values(ascending=False).index] if not pivot.empty else pivot
    current = plans.loc[plans["month"] == month].sort_values(
        ["mrr", "tier", "billing_interval"], ascending=[False, True, True]
    )
    if current.empty:
        raise ReportDataError(f"mrr_by_plan has no rows for month={month.date().isoformat()}")
    return Section(
        title="Plan mix",
        anchor="plans",
        charts=[
            Chart(
                title="MRR by plan tier",
                image_uri=charts.stacked_bars(pivot, "MRR by plan tier, last 12 months", data.currency),
                alt="Stacked bars of MRR per plan tier per month.",
            )
        ],
        tables=[
            Table(
                name="plan_mix",
                title=f"Plan mix, {month_label(month)}",
                frame=current,
                columns=[
                    Column("tier", "Tier"),
                    Column("billing_interval", "Billing"),
                    Column("mrr", "MRR", "money"),
                    Column("paying_customers", "Paying customers", "int"),
                    Column("arpa", "ARPA", "money"),
                    Column("share_of_mrr", "Share of MRR", "pct"),
                ],
            )
        ],
    )


def _retention(data: MonthlyReviewData, month: pd.Timestamp) -> Section:
    retention = as_timestamps(data.retention_trailing_12m, "month")
    retention = retention.loc[retention["month"] <= month].sort_values("month").tail(TREND_MONTHS)
    retention = retention.dropna(subset=["nrr", "grr"], how="all")
    cohorts = as_timestamps(data.cohort_retention, "cohort_month")
    cohorts = cohorts.loc[cohorts["cohort_month"] <= month]
    shown = sorted(cohorts["cohort_month"].unique())[-COHORTS_SHOWN:]
    cohorts = cohorts.loc[cohorts["cohort_month"].isin(shown) & (cohorts["months_since_start"] <= COHORTS_SHOWN)]
    cohorts = cohorts.sort_values(["cohort_month", "months_since_start"])
    section_charts = [
        Chart(
            title="NRR and GRR",
            image_uri=charts.rate_lines(
                retention, "month", {"nrr": "NRR", "grr": "GRR"}, "NRR and GRR, trailing 12 months"
            ),
            alt="Trailing-12-month NRR and GRR per month.",
        )
    ]
    for column, label in (("logo_retention", "Logo retention"), ("net_revenue_retention", "Net revenue retention")):
        pivot = cohorts.pivot_table(index="cohort_month", columns="months_since_start", values=column)
        section_charts.append(
            Chart(
                title=f"Cohort {label.lower()}",
                image_uri=charts.heatmap(pivot, f"Cohort {label.lower()} (%)", "Months since first payment"),
                alt=f"Heatmap of {label.lower()} per cohort month and months since start.",
            )
        )
    return Section(
        title="Retention",
        anchor="retention",
        intro="NRR and GRR over the customers paying 12 months earlier; cohorts by month of first payment.",
        charts=section_charts,
        tables=[
            Table(
                name="retention_trailing_12m",
                title="NRR and GRR, trailing 12 months",
                frame=retention,
                columns=[Column("month", "Month", "month"), Column("nrr", "NRR", "pct"), Column("grr", "GRR", "pct")],
                show_in_html=False,
            ),
            Table(
                name="cohort_retention",
                title="Cohort retention",
                frame=cohorts,
                columns=[
                    Column("cohort_month", "Cohort", "month"),
                    Column("months_since_start", "Months since start", "int"),
                    Column("cohort_size", "Cohort size", "int"),
                    Column("logo_retention", "Logo retention", "pct"),
                    Column("net_revenue_retention", "Net revenue retention", "pct"),
                    Column("gross_revenue_retention", "Gross revenue retention", "pct"),
                ],
                show_in_html=False,
            ),
        ],
    )


def _cash_and_margin(data: MonthlyReviewData, kpi: pd.DataFrame, month: pd.Timestamp) -> list[Section]:
    start = month - pd.DateOffset(months=SHORT_TREND_MONTHS - 1)
    billing = as_timestamps(data.billing_monthly, "month")
    billing = billing.loc[(billing["month"] >= start) & (billing["month"] <= month)].sort_values("month")
    row_for(billing, "month", month, "billing_monthly")
    usage = kpi.loc[(kpi["month"] >= start) & (kpi["month"] <= month)].sort_values("month")
    usage = usage.assign(gross_margin_ratio=usage["gross_margin_pct"].astype(float) / 100)
    cash = Section(
        title="Cash view",
        anchor="cash",
        intro="Billings, collections and refunds by month (separate from MRR); failed payment attempts per month.",
        charts=[
            Chart(
                title="Billings and collections",
                image_uri=charts.bars_and_line(
                    billing,
                    "month",
                    {
                        "billings_reporting": "Billings",
                        "collections_reporting": "Collections",
                        "refunds_reporting": "Refunds",
                    },
                    ("failed_payment_attempts", "Failed payments (right axis)"),
                    "Cash, last 12 months",
                    data.currency,
                    line_is_rate=False,
                ),
                alt="Monthly billings, collections and refunds with failed payment attempts.",
            )
        ],
        tables=[
            Table(
                name="cash_view",
                title="Cash view",
                frame=billing.sort_values("month", ascending=False),
                columns=[
                    Column("month", "Month", "month"),
                    Column("billings_reporting", "Billings", "money"),
                    Column("collections_reporting", "Collections", "money"),
                    Column("refunds_reporting", "Refunds", "money"),
                    Column("failed_payment_attempts", "Failed payments", "int"),
                ],
            )
        ],
    )
    margin = Section(
        title="Usage cost and gross margin",
        anchor="margin",
        charts=[
            Chart(
                title="Usage cost and gross margin",
                image_uri=charts.bars_and_line(
                    usage,
                    "month",
                    {"usage_cost": "Usage cost"},
                    ("gross_margin_ratio", "Gross margin % (right axis)"),
                    "Usage cost and gross margin, last 12 months",
                    data.currency,
                ),
                alt="Monthly usage cost bars with the gross margin percentage.",
            )
        ],
        tables=[
            Table(
                name="usage_and_margin",
                title="Usage cost and gross margin",
                frame=usage.sort_values("month", ascending=False),
                columns=[
                    Column("month", "Month", "month"),
                    Column("usage_cost", "Usage cost", "money"),
                    Column("gross_margin_pct", "Gross margin %", "percent"),
                    Column("mau", "MAU", "int"),
                    Column("cost_per_active_user", "Cost per active user", "money_precise"),
                    Column("ltv_simple", "LTV (simple)", "money"),
                ],
            )
        ],
    )
    return [cash, margin]


def _risk_and_alerts(
    data: MonthlyReviewData, mask_names: bool
) -> tuple[list[Section], pd.DataFrame, pd.DataFrame, ChurnSnapshot]:
    predictions = mask_customer_names(data.churn_predictions, mask_names)
    at_risk = predictions.sort_values(["mrr_at_risk", "customer_id"], ascending=[False, True], kind="mergesort")
    at_risk = at_risk.head(AT_RISK_ROWS)
    alerts = sort_by_rank(
        as_timestamps(data.metric_alerts, "day"), "severity", SEVERITY_ORDER, ["day", "metric"], [False, True]
    )
    snapshot = ChurnSnapshot.of(predictions)
    risk = Section.of_table(
        Table(
            name="accounts_at_risk",
            title="Top accounts by MRR at risk",
            frame=at_risk,
            columns=[
                Column("customer_name", "Customer"),
                Column("customer_id", "ID"),
                Column("tier", "Tier"),
                Column("risk_band", "Risk"),
                Column("churn_probability", "Churn prob.", "pct"),
                Column("mrr_at_risk", "MRR at risk", "money"),
                Column("top_drivers", "Churn drivers", wrap=True),
            ],
        ),
        anchor="risk",
        intro=f"Churn model snapshot {snapshot.label}; MRR at risk = churn probability × MRR.",
    )
    alert_section = Section.of_table(
        Table("open_alerts", "Open alerts", list(ALERT_COLUMNS), alerts, empty_text="No open alerts."), anchor="alerts"
    )
    return [risk, alert_section], at_risk, alerts, snapshot


def _highlights(
    cards: list[Kpi], movement: dict[str, float], at_risk: pd.DataFrame, alerts: pd.DataFrame, currency: str
) -> list[str]:
    mrr, *_ = cards
    net_new = movement["ending_mrr"] - movement["starting_mrr"]
    lines = [
        f"MRR {money(mrr.value, currency)}: {format_change(mrr.mom, 'pct')} vs the prior month, "
        f"{format_change(mrr.yoy, 'pct')} vs a year earlier.",
        f"Net MRR change {money(net_new, currency)}: new {money(movement['new_mrr'], currency)}, expansion "
        f"{money(movement['expansion_mrr'], currency)}, churn {money(movement['churned_mrr'], currency)}, "
        f"contraction {money(movement['contraction_mrr'], currency)}.",
    ]
    nrr = next(c for c in cards if c.label.startswith("NRR"))
    grr = next(c for c in cards if c.label.startswith("GRR"))
    lines.append(f"Trailing-12-month NRR {pct(nrr.value)} and GRR {pct(grr.value)}.")
    high = int((at_risk["risk_band"].str.lower() == "high").sum()) if len(at_risk) else 0
    lines.append(
        f"Top {len(at_risk)} accounts carry {money(at_risk['mrr_at_risk'].sum(), currency)} of MRR at risk "
        f"({high} in the high band); {plural(len(alerts), 'open alert')}."
    )
    return lines


def build(data: MonthlyReviewData, *, mask_names: bool) -> ReportContent:
    data.validate()
    data = data.normalized()
    month = pd.Timestamp(month_start(data.period))
    kpi = as_timestamps(data.kpi_monthly, "month")
    cards, kpi_row = _kpis(kpi, month)
    movement_section, movement = _movements(data, month, kpi_row)
    risk_sections, at_risk, alerts, snapshot = _risk_and_alerts(data, mask_names)
    sections = [
        _trend(data, kpi, month),
        movement_section,
        _plan_mix(data, month),
        _retention(data, month),
        *_cash_and_margin(data, kpi, month),
        *risk_sections,
    ]
    summary: dict[str, object] = {column: plain(kpi_row[column]) for column, *_ in HEADLINE_KPIS} | {
        "mrr_mom_change": plain(cards[0].mom),
        "mrr_yoy_change": plain(cards[0].yoy),
        **{column: movement[column] for column in movement},
        "mrr_at_risk_top_accounts": float(at_risk["mrr_at_risk"].sum()),
        "open_alerts": len(alerts),
    }
    summary = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in summary.items()}
    return ReportContent(
        report=MONTHLY_BUSINESS_REVIEW,
        period=data.period,
        title="Monthly business review",
        subtitle=month_label(month),
        currency=data.currency,
        kpis=cards,
        kpi_table=_kpi_table(cards),
        sections=sections,
        summary=summary,
        definitions=MONTHLY_DEFINITIONS,
        highlights=_highlights(cards, movement, at_risk, alerts, data.currency),
        notes=snapshot.notes,
    )
