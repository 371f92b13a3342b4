"""Metric-alert asset: daily metrics from the marts through the robust weekday-aware detector, monthly KPIs through
the YAML threshold rules (models_ml/alert_rules.yaml) -> ml.metric_alerts. In demo mode, recall and precision
against the simulator's injected incidents go into the asset metadata."""

# No `from __future__ import annotations`: Dagster reads the asset functions' `context` annotation at definition time.
import dagster as dg

from orchestration.assets.ml import truth
from orchestration.assets.ml.common import (
    ML_GROUP,
    POOL,
    markdown_table,
    mart_key,
    ml_key,
    stamped,
    utc_now,
    write,
)
from orchestration.lazy import lazy_module
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import Settings

# Deferred: only executing the assets needs them (orchestration/lazy.py), hence the quoted annotations.
pd = lazy_module("pandas")
anomalies = lazy_module("models_ml.anomalies")

ALERTS_TABLE = "metric_alerts"
# Each query returns (day, metric, scope, value): one daily series per (metric, scope).
MIN_DAILY_REQUESTS = 200  # a day's error rate / latency of a scope is judged only with this much traffic
DAILY_METRIC_QUERIES = {
    "requests per service": """
        SELECT usage_date AS day, 'requests' AS metric, 'service:' || service AS scope, sum(requests) AS value
        FROM marts.fct_usage_daily GROUP BY usage_date, service""",
    "usage cost, total": """
        SELECT usage_date AS day, 'usage_cost_usd' AS metric, 'all' AS scope, sum(cost_usd) AS value
        FROM marts.fct_usage_daily GROUP BY usage_date""",
    "usage cost per model": """
        SELECT usage_date AS day, 'usage_cost_usd' AS metric, 'model:' || model AS scope, sum(cost_usd) AS value
        FROM marts.fct_usage_daily GROUP BY usage_date, model""",
    "error rate per provider (all services)": """
        SELECT usage_date AS day, 'error_rate' AS metric, 'provider:' || provider AS scope,
               1.0 * sum(failed_requests) / sum(requests) AS value
        FROM marts.service_performance_daily GROUP BY usage_date, provider""",
    "error rate per service and provider": f"""
        SELECT usage_date AS day, 'error_rate' AS metric, 'service:' || service || '/provider:' || provider AS scope,
               error_rate AS value
        FROM marts.service_performance_daily WHERE requests >= {MIN_DAILY_REQUESTS}""",
    "latency per model (request-weighted p95 over customers)": f"""
        SELECT usage_date AS day, 'latency_p95_ms' AS metric, 'model:' || model AS scope,
               sum(latency_p95_ms * requests) / sum(requests) AS value
        FROM marts.fct_usage_daily GROUP BY usage_date, model HAVING sum(requests) >= {MIN_DAILY_REQUESTS}""",
    "signups": """
        SELECT activity_date AS day, 'signups' AS metric, 'all' AS scope, new_users AS value
        FROM marts.engagement_daily""",
    "failed payments": """
        SELECT CAST(p.created_at AS date) AS day, 'failed_payments' AS metric, 'all' AS scope, count(*) AS value
        FROM staging.stg_lago__payments AS p
        INNER JOIN staging.stg_lago__invoices AS i ON i.invoice_id = p.invoice_id
        INNER JOIN marts.dim_customers AS c ON c.lago_customer_id = i.customer_id AND NOT c.is_internal
        WHERE p.payment_status = 'failed'
        GROUP BY CAST(p.created_at AS date)""",
}
# Metrics the simulator injects incidents into (error spikes, latency spikes, runaway cost): the demo evaluation
# reports precision over these as well as over all detector alerts.
INCIDENT_METRICS = ("error_rate", "latency_p95_ms", "usage_cost_usd", "requests")
# Monthly KPIs for the threshold rules: rule metric name -> (mart, column).
KPI_COLUMNS = {
    "logo_churn_rate": ("kpi_monthly", "logo_churn_rate"),
    "nrr_12m": ("kpi_monthly", "nrr_trailing_12m"),
    "grr_12m": ("kpi_monthly", "grr_trailing_12m"),
    "quick_ratio": ("kpi_monthly", "quick_ratio"),
    "gross_revenue_churn": ("mrr_movements", "gross_revenue_churn_rate"),
}
MART_DEPS = (
    "fct_usage_daily",
    "service_performance_daily",
    "engagement_daily",
    "dim_customers",
    "kpi_monthly",
    "mrr_movements",
)
DEPS = [
    *(mart_key(name) for name in MART_DEPS),
    dg.AssetKey(["staging", "stg_lago__payments"]),
    dg.AssetKey(["staging", "stg_lago__invoices"]),
]


def load_daily_metrics(warehouse: WarehouseResource) -> "pd.DataFrame":
    """Long frame day, metric, scope, value; days with no failed payments count as 0 (a count, not a gap)."""
    frames = [warehouse.query_df(query) for query in DAILY_METRIC_QUERIES.values()]
    daily = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    daily["day"] = pd.to_datetime(daily["day"])
    daily["value"] = pd.to_numeric(daily["value"], errors="coerce").astype(float)
    first, last = daily["day"].min(), daily["day"].max()
    payments = daily[daily["metric"] == "failed_payments"].set_index("day")["value"]
    filled = payments.reindex(pd.date_range(first, last, freq="D"), fill_value=0.0).rename_axis("day").reset_index()
    filled = filled.assign(metric="failed_payments", scope="all")
    return pd.concat([daily[daily["metric"] != "failed_payments"], filled], ignore_index=True)


def load_kpis(warehouse: WarehouseResource) -> "pd.DataFrame":
    frames = []
    for metric, (mart, column) in KPI_COLUMNS.items():
        frame = warehouse.query_df(
            f"SELECT month AS day, {column} AS value FROM marts.{mart} WHERE is_closed_month AND {column} IS NOT NULL"
        )
        frames.append(frame.assign(metric=metric, scope="all"))
    kpis = pd.concat(frames, ignore_index=True)
    kpis["day"] = pd.to_datetime(kpis["day"])
    return kpis[["day", "metric", "scope", "value"]]


def detect_alerts(warehouse: WarehouseResource, run_id: str) -> "pd.DataFrame":
    alerts = anomalies.metric_alerts(load_daily_metrics(warehouse), load_kpis(warehouse), anomalies.load_config())
    alerts["day"] = pd.to_datetime(alerts["day"]).dt.date
    return stamped(alerts, run_id, utc_now())


def evaluate_against_incidents(
    settings: Settings, alerts: "pd.DataFrame", incidents: "pd.DataFrame | None" = None
) -> dict[str, float] | None:
    """Recall / precision of the detector's daily alerts on the simulator's injected incident days (demo only;
    `incidents` defaults to all of them). Scored from the first day the detector can judge (min_weeks of
    same-weekday history) on.
    """
    incidents = truth.incidents(settings) if incidents is None else incidents
    if incidents is None:
        return None
    detector = anomalies.load_config().detector
    daily = alerts[alerts["source"] == "detector"].assign(day=lambda f: pd.to_datetime(f["day"]))
    if daily.empty or incidents.empty:
        return {"incidents": float(len(incidents)), "alerts": float(len(daily))}
    start = pd.Timestamp(settings.simulator.resolved_start()) + pd.Timedelta(days=7 * detector.min_weeks)
    end = daily["day"].max()
    scored_incidents = incidents[(incidents["day"] >= start) & (incidents["day"] <= end)]
    scored_alerts = daily[daily["day"] >= start]
    result = {f"all_metrics.{k}": v for k, v in anomalies.evaluate_alerts(scored_alerts, scored_incidents).items()}
    usage_alerts = scored_alerts[scored_alerts["metric"].isin(INCIDENT_METRICS)]
    result |= {f"usage_metrics.{k}": v for k, v in anomalies.evaluate_alerts(usage_alerts, scored_incidents).items()}
    return {name: float(value) for name, value in result.items()}


def build_alert_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=ml_key(ALERTS_TABLE),
        group_name=ML_GROUP,
        deps=DEPS,
        pool=POOL,
        kinds={"python", settings.warehouse},
        description=(
            "Alerts on daily metrics (requests per service, usage cost in total and per model, error rate per "
            "provider and per busy service x provider, p95 latency per busy model, signups, failed payments) from "
            "a robust weekday-aware "
            "detector, plus threshold-rule alerts on monthly KPIs (models_ml/alert_rules.yaml)."
        ),
    )
    def metric_alerts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        alerts = detect_alerts(warehouse, context.run_id)
        write(warehouse, ALERTS_TABLE, alerts)
        counts = alerts.groupby(["metric", "severity"]).size().rename("alerts").reset_index()
        metadata: dict[str, object] = {
            "rows": len(alerts),
            "latest_day": str(alerts["day"].max()) if len(alerts) else "",
            "alerts_by_metric": markdown_table(counts) if len(counts) else dg.MetadataValue.md("no alerts"),
        }
        evaluation = evaluate_against_incidents(settings, alerts)
        if evaluation is not None:
            metadata.update({f"incidents.{k}": dg.MetadataValue.float(v) for k, v in evaluation.items() if v == v})
        return dg.MaterializeResult(metadata=metadata)

    return [metric_alerts]
