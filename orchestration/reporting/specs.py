"""Report ids, periods and the input contracts the reports render from.

Each report reads a dataclass of pandas DataFrames whose columns are the mart / ml columns listed in
`*_COLUMNS` below; the wiring step SELECTs these columns (extra columns are ignored). `validate()` names the
frame and the missing column instead of failing later inside a template.

Units follow the marts: money in the reporting currency (cost_usd / *_usd in USD); rates named without
`_pct` are fractions (nrr 1.07, logo_churn_rate 0.029, error_rate 0.012, churn_probability 0.43); columns
named `*_pct` are percentages 0-100 (gross_margin_pct 83.7, margin_pct -6.2). Dates may be dates or
timestamps; decimals may be Decimal objects (`normalized()` turns them into floats).
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ClassVar

from orchestration.lazy import lazy_module

pd = lazy_module("pandas")  # deferred: not needed to load the code location (orchestration/lazy.py)

MONTHLY_BUSINESS_REVIEW = "monthly_business_review"
WEEKLY_USAGE_COST = "weekly_usage_cost"
WEEKLY_CHURN_RISK = "weekly_churn_risk"
REPORT_IDS = (MONTHLY_BUSINESS_REVIEW, WEEKLY_USAGE_COST, WEEKLY_CHURN_RISK)


class ReportDataError(ValueError):
    """The input frames break the contract (missing column, missing period row, broken identity)."""


# ---- periods ---------------------------------------------------------------------------------------------------------


def month_start(period: str) -> dt.date:
    """'2026-10' -> 2026-10-01."""
    if not re.fullmatch(r"\d{4}-\d{2}", period):
        raise ReportDataError(f"monthly period must look like 2026-10, got {period!r}")
    return dt.date(int(period[:4]), int(period[5:]), 1)


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def iso_week_bounds(period: str) -> tuple[dt.date, dt.date]:
    """'2026-W43' -> (Monday, Sunday) of that ISO week."""
    match = re.fullmatch(r"(\d{4})-W(\d{2})", period)
    if not match:
        raise ReportDataError(f"weekly period must look like 2026-W43, got {period!r}")
    monday = dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
    return monday, monday + dt.timedelta(days=6)


def iso_week_label(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


# ---- input contracts -------------------------------------------------------------------------------------------------

KPI_MONTHLY_COLUMNS = (
    "month",
    "mrr",
    "arr",
    "paying_customers",
    "new_customers",
    "logo_churn_rate",
    "nrr",
    "grr",
    "arpa",
    "quick_ratio",
    "mau",
    "avg_stickiness",
    "usage_cost",
    "gross_margin_pct",
    "cost_per_active_user",
    "ltv_simple",
    "is_closed_month",
)
MRR_MOVEMENTS_COLUMNS = (
    "month",
    "starting_mrr",
    "new_mrr",
    "reactivation_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
    "fx_adjustment",
    "ending_mrr",
)
MRR_BY_PLAN_COLUMNS = ("month", "tier", "billing_interval", "mrr", "paying_customers", "arpa", "share_of_mrr")
RETENTION_COLUMNS = ("month", "nrr", "grr")
COHORT_RETENTION_COLUMNS = (
    "cohort_month",
    "months_since_start",
    "cohort_size",
    "logo_retention",
    "net_revenue_retention",
    "gross_revenue_retention",
)
BILLING_MONTHLY_COLUMNS = (
    "month",
    "billings_reporting",
    "collections_reporting",
    "refunds_reporting",
    "failed_payment_attempts",
)
FORECAST_COLUMNS = ("series", "month", "mean", "lo_80", "hi_80", "lo_95", "hi_95", "model")
CHURN_PREDICTIONS_COLUMNS = (
    "customer_id",
    "customer_name",
    "snapshot_month",
    "churn_probability",
    "risk_band",
    "mrr_at_risk",
    "top_drivers",
    "tier",
    "tenure_months",
    "last_active_day",
    "scored_retrospectively",  # the snapshot was scored after newer months had closed (footnoted)
)
METRIC_ALERTS_COLUMNS = ("day", "metric", "scope", "value", "expected_low", "expected_high", "severity", "message")
USAGE_WEEKLY_COLUMNS = (
    "service",
    "model",
    "requests",
    "total_tokens",
    "cost_usd",
    "requests_prev_week",
    "total_tokens_prev_week",
    "cost_usd_prev_week",
)
COST_DAILY_COLUMNS = ("day", "cost_usd")
CUSTOMER_MARGIN_COLUMNS = ("customer_id", "month", "mrr", "usage_revenue", "usage_cost", "gross_margin", "margin_pct")
SERVICE_PERFORMANCE_COLUMNS = (
    "day",
    "service",
    "requests",
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
)
COST_RECOMMENDATIONS_COLUMNS = (
    "recommendation_type",
    "scope",
    "customer_id",
    "estimated_monthly_saving_usd",
    "evidence",
)


def _decimals_to_float(frame: pd.DataFrame) -> pd.DataFrame:
    """Warehouse decimal columns arrive as object columns of Decimal; the reports compute in float."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            sample = out[column].dropna()
            if len(sample) and isinstance(sample.iloc[0], decimal.Decimal):
                out[column] = out[column].astype(float)
    return out


class _Inputs:
    """Shared behaviour of the input dataclasses: period and column checks, numeric normalisation."""

    CONTRACT: ClassVar[dict[str, tuple[str, ...]]] = {}
    # Parses `period`, raising ReportDataError when it is malformed (month_start or iso_week_bounds).
    parse_period: ClassVar[Callable[[str], object]]

    def validate(self) -> None:
        self.parse_period(self.period)  # type: ignore[attr-defined]
        for name, columns in self.CONTRACT.items():
            frame = getattr(self, name)
            if not isinstance(frame, pd.DataFrame):
                raise ReportDataError(f"{type(self).__name__}.{name} must be a pandas DataFrame, got {type(frame)}")
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ReportDataError(f"{type(self).__name__}.{name} is missing column(s) {', '.join(missing)}")

    def normalized(self):  # -> same dataclass type
        return replace(self, **{name: _decimals_to_float(getattr(self, name)) for name in self.CONTRACT})  # type: ignore[type-var]


@dataclass(frozen=True)
class MonthlyReviewData(_Inputs):
    """Inputs of the monthly business review; `period` is the last closed month ('2026-10').

    Frames hold the whole history the marts have (at least 25 months of kpi_monthly for year-over-year);
    `mrr_forecast` holds the ml.mrr_forecast rows of the MRR series only; `churn_predictions` the newest
    snapshot at or before the month; `metric_alerts` the alerts still open.
    """

    period: str
    kpi_monthly: pd.DataFrame
    mrr_movements: pd.DataFrame
    mrr_by_plan: pd.DataFrame
    retention_trailing_12m: pd.DataFrame
    cohort_retention: pd.DataFrame
    billing_monthly: pd.DataFrame
    mrr_forecast: pd.DataFrame
    churn_predictions: pd.DataFrame
    metric_alerts: pd.DataFrame
    currency: str = "USD"

    CONTRACT: ClassVar[dict[str, tuple[str, ...]]] = {
        "kpi_monthly": KPI_MONTHLY_COLUMNS,
        "mrr_movements": MRR_MOVEMENTS_COLUMNS,
        "mrr_by_plan": MRR_BY_PLAN_COLUMNS,
        "retention_trailing_12m": RETENTION_COLUMNS,
        "cohort_retention": COHORT_RETENTION_COLUMNS,
        "billing_monthly": BILLING_MONTHLY_COLUMNS,
        "mrr_forecast": FORECAST_COLUMNS,
        "churn_predictions": CHURN_PREDICTIONS_COLUMNS,
        "metric_alerts": METRIC_ALERTS_COLUMNS,
    }
    parse_period = staticmethod(month_start)


@dataclass(frozen=True)
class WeeklyUsageData(_Inputs):
    """Inputs of the weekly usage & cost report; `period` is an ISO week ('2026-W43').

    `usage_by_model`: fct_usage_daily summed over the week per service x model, with the previous week's
    values. `cost_daily`: total cost per day for at least the trailing 12 weeks. `cost_forecast`: the
    ml.mrr_forecast rows of the usage-cost series (monthly). `customer_margin`: customer_margin_monthly rows
    of the month containing the week's last day (month to date when that month is open).
    `service_performance`: service_performance_daily for this week and the previous one.
    `metric_alerts`: alerts raised during the week. `cost_recommendations`: the current recommendations.
    """

    period: str
    usage_by_model: pd.DataFrame
    cost_daily: pd.DataFrame
    cost_forecast: pd.DataFrame
    customer_margin: pd.DataFrame
    service_performance: pd.DataFrame
    metric_alerts: pd.DataFrame
    cost_recommendations: pd.DataFrame
    currency: str = "USD"

    CONTRACT: ClassVar[dict[str, tuple[str, ...]]] = {
        "usage_by_model": USAGE_WEEKLY_COLUMNS,
        "cost_daily": COST_DAILY_COLUMNS,
        "cost_forecast": FORECAST_COLUMNS,
        "customer_margin": CUSTOMER_MARGIN_COLUMNS,
        "service_performance": SERVICE_PERFORMANCE_COLUMNS,
        "metric_alerts": METRIC_ALERTS_COLUMNS,
        "cost_recommendations": COST_RECOMMENDATIONS_COLUMNS,
    }
    parse_period = staticmethod(iso_week_bounds)


@dataclass(frozen=True)
class ChurnRiskData(_Inputs):
    """Inputs of the weekly churn-risk list: the newest ml.churn_predictions snapshot of a month closed by the
    week's end (all bands)."""

    period: str
    churn_predictions: pd.DataFrame
    currency: str = "USD"

    CONTRACT: ClassVar[dict[str, tuple[str, ...]]] = {"churn_predictions": CHURN_PREDICTIONS_COLUMNS}
    parse_period = staticmethod(iso_week_bounds)


DATA_CLASSES = {
    MONTHLY_BUSINESS_REVIEW: MonthlyReviewData,
    WEEKLY_USAGE_COST: WeeklyUsageData,
    WEEKLY_CHURN_RISK: ChurnRiskData,
}
