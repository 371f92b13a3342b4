"""Warehouse reads for the stakeholder reports: marts/ml tables -> the input dataclasses of orchestration.reporting.

Every query is plain SQL that runs unchanged on DuckDB and PostgreSQL (`$n` placeholders, dates computed in
Python). Columns are aliased to the names the report specs expect (orchestration/reporting/specs.py); the
mapping is the only business logic here. A missing input table is an error naming the table and the asset
that writes it, never a silently empty section.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from orchestration.lazy import lazy_module
from orchestration.reporting.specs import (
    ChurnRiskData,
    MonthlyReviewData,
    WeeklyUsageData,
    add_months,
    iso_week_bounds,
    month_start,
)
from orchestration.resources.warehouse import WarehouseResource, WarehouseSession

pd = lazy_module("pandas")  # deferred: only executing the assets needs it (orchestration/lazy.py)

# ml.mrr_forecast holds one forecast per `series`; the reports read these two.
MRR_SERIES = "mrr"
USAGE_COST_SERIES = "usage_cost"
COST_SAVING = "cost_saving"  # ml.cost_recommendations.impact_kind of usage-cost savings
COST_TREND_WEEKS = 13  # the weekly report charts 12 weeks; one more keeps the first week complete

# Every table a report reads (schema, name); the report assets depend on the matching asset keys.
MONTHLY_REVIEW_TABLES = (
    ("marts", "kpi_monthly"),
    ("marts", "mrr_movements"),
    ("marts", "mrr_by_plan"),
    ("marts", "retention_trailing_12m"),
    ("marts", "cohort_retention"),
    ("marts", "billing_monthly"),
    ("marts", "dim_customers"),
    ("marts", "fct_usage_daily"),
    ("ml", "mrr_forecast"),
    ("ml", "churn_predictions"),
    ("ml", "metric_alerts"),
)
WEEKLY_USAGE_TABLES = (
    ("marts", "fct_usage_daily"),
    ("marts", "customer_margin_monthly"),
    ("marts", "service_performance_daily"),
    ("ml", "mrr_forecast"),
    ("ml", "metric_alerts"),
    ("ml", "cost_recommendations"),
)
CHURN_RISK_TABLES = (
    ("marts", "dim_customers"),
    ("marts", "fct_usage_daily"),
    ("ml", "churn_predictions"),
)


class ReportInputMissingError(LookupError):
    """A table or a period row a report needs is not in the warehouse."""


@dataclass(frozen=True)
class ReportPeriod:
    """A report period with the date bounds the queries use."""

    label: str  # '2026-10' or '2026-W43'
    first_day: dt.date
    last_day: dt.date

    @classmethod
    def month(cls, label: str) -> ReportPeriod:
        first = month_start(label)
        return cls(label, first, add_months(first, 1) - dt.timedelta(days=1))

    @classmethod
    def iso_week(cls, label: str) -> ReportPeriod:
        monday, sunday = iso_week_bounds(label)
        return cls(label, monday, sunday)

    @property
    def last_closed_month(self) -> dt.date:
        """The last month that has ended by the end of the period's last day (the churn snapshot to use)."""
        return add_months(month_start(f"{self.last_day + dt.timedelta(days=1):%Y-%m}"), -1)


def _frame(session: WarehouseSession, sql: str, params: list[object] | None = None) -> pd.DataFrame:
    """Query into pandas with decimals as floats (both engines)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = session.query_arrow(sql, params)
    for i, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type):
            table = table.set_column(i, field.name, pc.cast(table.column(i), pa.float64()))
    return table.to_pandas()


def require_tables(session: WarehouseSession, tables: tuple[tuple[str, str], ...], report: str) -> None:
    missing = [f"{schema}.{name}" for schema, name in tables if not session.table_exists(schema, name)]
    if missing:
        raise ReportInputMissingError(
            f"report {report} reads {', '.join(missing)}, which the warehouse does not have: materialize the "
            f"asset(s) {', '.join(m.replace('.', '/') for m in missing)} first"
        )


# ---- shared ----------------------------------------------------------------------------------------------------------


def forecast_rows(session: WarehouseSession, series: str) -> pd.DataFrame:
    frame = _frame(
        session,
        'SELECT series, month, "mean", lo_80, hi_80, lo_95, hi_95, model FROM ml.mrr_forecast '
        "WHERE series = $1 ORDER BY month",
        [series],
    )
    if frame.empty:
        known = [r[0] for r in session.query("SELECT DISTINCT series FROM ml.mrr_forecast ORDER BY 1")]
        raise ReportInputMissingError(f"ml.mrr_forecast has no rows for series {series!r} (it has: {known})")
    return frame


def churn_predictions(session: WarehouseSession, snapshot_at_most: dt.date, period_end: dt.date) -> pd.DataFrame:
    """The newest ml.churn_predictions snapshot at or before `snapshot_at_most` with the customer's name
    (dim_customers; tier, tenure and last active day are stamped on the predictions by the scoring asset). The
    table keeps every snapshot and never rewrites a superseded one, so a past period re-renders the same.

    The stamped last active day is as of the scoring run; when it falls after `period_end` (a past period), the
    customer's last usage day up to `period_end` stands in (the marts keep logins per user, not per day)."""
    snapshot = session.query(
        "SELECT max(snapshot_month) FROM ml.churn_predictions WHERE snapshot_month <= $1", [snapshot_at_most]
    )[0][0]
    if snapshot is None:
        raise ReportInputMissingError(
            f"ml.churn_predictions has no snapshot at or before {snapshot_at_most:%Y-%m} (it has one per closed "
            "month of marts.customer_features_monthly, and none is that early)"
        )
    return _frame(
        session,
        """
        SELECT
            p.customer_external_id AS customer_id,
            c.customer_name,
            p.snapshot_month,
            p.churn_probability,
            p.risk_band,
            p.mrr_at_risk,
            p.top_drivers,
            p.tier,
            p.tenure_months,
            CASE
                WHEN p.last_active_day <= $2 THEN p.last_active_day
                ELSE (
                    SELECT max(u.usage_date) FROM marts.fct_usage_daily AS u
                    WHERE u.customer_id = p.customer_external_id AND u.usage_date <= $2
                )
            END AS last_active_day,
            p.scored_retrospectively
        FROM ml.churn_predictions AS p
        LEFT JOIN marts.dim_customers AS c ON c.customer_id = p.customer_external_id
        WHERE p.snapshot_month = $1
        ORDER BY p.mrr_at_risk DESC, p.customer_external_id
        """,
        [snapshot, period_end],
    )


def metric_alerts(session: WarehouseSession, first_day: dt.date, last_day: dt.date) -> pd.DataFrame:
    """Alerts raised on a day of [first_day, last_day]."""
    return _frame(
        session,
        'SELECT "day", metric, scope, "value", expected_low, expected_high, severity, message '
        'FROM ml.metric_alerts WHERE "day" >= $1 AND "day" < $2 ORDER BY "day", metric, scope',
        [first_day, last_day + dt.timedelta(days=1)],
    )


# ---- monthly business review -----------------------------------------------------------------------------------------


def monthly_review_data(warehouse: WarehouseResource, period: ReportPeriod, currency: str) -> MonthlyReviewData:
    """Inputs of the monthly business review of `period` (a month); only months up to it are read."""
    end = [period.first_day]
    with warehouse.connect() as session:
        require_tables(session, MONTHLY_REVIEW_TABLES, "monthly_business_review")
        kpi = _frame(
            session,
            """
            SELECT month, mrr, arr, paying_customers, new_customers, logo_churn_rate,
                   nrr_trailing_12m AS nrr, grr_trailing_12m AS grr, arpa, quick_ratio, mau,
                   avg_dau_mau AS avg_stickiness, usage_cost, gross_margin_pct, cost_per_active_user, ltv_simple,
                   is_closed_month
            FROM marts.kpi_monthly WHERE month <= $1 ORDER BY month
            """,
            end,
        )
        if not (pd.to_datetime(kpi["month"]) == pd.Timestamp(period.first_day)).any():
            raise ReportInputMissingError(f"marts.kpi_monthly has no row for {period.label}")
        return MonthlyReviewData(
            period=period.label,
            kpi_monthly=kpi,
            mrr_movements=_frame(
                session,
                """
                SELECT month, starting_mrr, new_mrr, reactivation_mrr, expansion_mrr, contraction_mrr, churned_mrr,
                       fx_adjustment, ending_mrr
                FROM marts.mrr_movements WHERE month <= $1 ORDER BY month
                """,
                end,
            ),
            mrr_by_plan=_frame(
                session,
                "SELECT month, tier, billing_interval, mrr, paying_customers, arpa, share_of_mrr "
                "FROM marts.mrr_by_plan WHERE month <= $1 ORDER BY month, tier, billing_interval",
                end,
            ),
            retention_trailing_12m=_frame(
                session,
                "SELECT month, nrr, grr FROM marts.retention_trailing_12m WHERE month <= $1 ORDER BY month",
                end,
            ),
            cohort_retention=_frame(
                session,
                """
                SELECT cohort_month, months_since_start, cohort_size, logo_retention, net_revenue_retention,
                       gross_revenue_retention
                FROM marts.cohort_retention WHERE month <= $1 ORDER BY cohort_month, months_since_start
                """,
                end,
            ),
            # billing_monthly is per month and billing currency: sum the reporting-currency amounts.
            billing_monthly=_frame(
                session,
                """
                SELECT month,
                       sum(billings_reporting) AS billings_reporting,
                       sum(collections_reporting) AS collections_reporting,
                       sum(refunds_reporting) AS refunds_reporting,
                       sum(failed_payment_attempts) AS failed_payment_attempts
                FROM marts.billing_monthly WHERE month <= $1 GROUP BY month ORDER BY month
                """,
                end,
            ),
            mrr_forecast=forecast_rows(session, MRR_SERIES),
            churn_predictions=churn_predictions(session, period.first_day, period.last_day),
            # Alerts carry no resolution state: "open" for the review = raised during the reviewed month.
            metric_alerts=metric_alerts(session, period.first_day, period.last_day),
            currency=currency,
        )


# ---- weekly usage & cost ---------------------------------------------------------------------------------------------


def usage_by_model(session: WarehouseSession, period: ReportPeriod) -> pd.DataFrame:
    """fct_usage_daily summed per service x model over the ISO week and the week before; a pair with no usage in one
    of the weeks gets 0 there (one scan with conditional sums: no outer join, NULL models group together)."""
    this_week = "usage_date >= $1"
    sums = ", ".join(
        f"sum(CASE WHEN {condition} THEN {column} ELSE 0 END) AS {column}{suffix}"
        for condition, suffix in ((this_week, ""), (f"NOT ({this_week})", "_prev_week"))
        for column in ("requests", "total_tokens", "cost_usd")
    )
    return _frame(
        session,
        f"""
        SELECT service, model, {sums}
        FROM marts.fct_usage_daily
        WHERE usage_date >= $2 AND usage_date <= $3
        GROUP BY service, model
        ORDER BY service, model
        """,
        [period.first_day, period.first_day - dt.timedelta(days=7), period.last_day],
    )


def weekly_usage_data(warehouse: WarehouseResource, period: ReportPeriod, currency: str) -> WeeklyUsageData:
    """Inputs of the weekly usage & cost report of `period` (an ISO week)."""
    margin_month = period.last_day.replace(day=1)  # the month containing the week's Sunday
    with warehouse.connect() as session:
        require_tables(session, WEEKLY_USAGE_TABLES, "weekly_usage_cost")
        usage = usage_by_model(session, period)
        if usage.empty:
            raise ReportInputMissingError(
                f"marts.fct_usage_daily has no usage in {period.label} or the week before "
                f"({period.first_day - dt.timedelta(days=7)} to {period.last_day})"
            )
        return WeeklyUsageData(
            period=period.label,
            usage_by_model=usage,
            cost_daily=_frame(
                session,
                "SELECT usage_date AS day, sum(cost_usd) AS cost_usd FROM marts.fct_usage_daily "
                "WHERE usage_date > $1 AND usage_date <= $2 GROUP BY usage_date ORDER BY usage_date",
                [period.last_day - dt.timedelta(weeks=COST_TREND_WEEKS), period.last_day],
            ),
            cost_forecast=forecast_rows(session, USAGE_COST_SERIES),
            # Customers with revenue: trial and free accounts' usage counts in the cost totals above, but a margin
            # without revenue (cents of cost, margin % undefined) would flood the negative-margin list.
            customer_margin=_frame(
                session,
                "SELECT customer_id, month, mrr, usage_revenue, usage_cost, gross_margin, margin_pct "
                "FROM marts.customer_margin_monthly WHERE month = $1 AND (is_paying OR usage_revenue > 0) "
                "ORDER BY customer_id",
                [margin_month],
            ),
            # Per service: the table is per day x service x provider.
            service_performance=_frame(
                session,
                """
                SELECT usage_date AS day, service,
                       sum(requests) AS requests,
                       CAST(sum(failed_requests) AS DOUBLE PRECISION) / nullif(sum(requests), 0) AS error_rate,
                       max(latency_p50_ms) AS latency_p50_ms,
                       max(latency_p95_ms) AS latency_p95_ms,
                       max(latency_p99_ms) AS latency_p99_ms
                FROM marts.service_performance_daily
                WHERE usage_date >= $1 AND usage_date <= $2
                GROUP BY usage_date, service ORDER BY usage_date, service
                """,
                [period.first_day - dt.timedelta(days=7), period.last_day],
            ),
            metric_alerts=metric_alerts(session, period.first_day, period.last_day),
            # Cost savings only: plan right-sizing rows carry MRR at stake, not a saving (impact_kind says which).
            cost_recommendations=_frame(
                session,
                "SELECT recommendation_type, scope, customer_external_id AS customer_id, estimated_monthly_saving_usd, "
                "evidence FROM ml.cost_recommendations WHERE impact_kind = $1 "
                "ORDER BY estimated_monthly_saving_usd DESC, recommendation_type, scope",
                [COST_SAVING],
            ),
            currency=currency,
        )


# ---- weekly churn risk -----------------------------------------------------------------------------------------------


def churn_risk_data(warehouse: WarehouseResource, period: ReportPeriod, currency: str) -> ChurnRiskData:
    """Inputs of the weekly churn-risk list: the newest snapshot of a month closed by the week's end."""
    with warehouse.connect() as session:
        require_tables(session, CHURN_RISK_TABLES, "weekly_churn_risk")
        return ChurnRiskData(
            period=period.label,
            churn_predictions=churn_predictions(session, period.last_closed_month, period.last_day),
            currency=currency,
        )
