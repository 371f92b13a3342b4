"""Stakeholder reports as Dagster assets (group `reports`): read the marts/ml tables, render, deliver, log the run.

- reports/monthly_business_review: monthly partitions ('2026-10-01' -> period '2026-10', a closed month)
- reports/weekly_usage_cost, reports/weekly_churn_risk: weekly partitions starting Monday ('2026-10-19' ->
  ISO week '2026-W43')

Each materialization renders into `<reports_dir>/<report>/<period>/` (HTML, PDF, XLSX, CSVs), delivers (folder
always; e-mail/webhook per reports.yaml, retried) and appends one row to reports.report_runs, also when rendering
or delivery fails. Files, checksums and per-channel outcomes are asset metadata; the `fully_delivered` check
warns when a channel failed (the files stay in the folder either way).
"""

# No `from __future__ import annotations` here: Dagster reads the asset functions' `context` annotation at
# definition time and rejects it as a string.
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import dagster as dg

from orchestration.assets import report_queries as queries
from orchestration.assets.raw import WAREHOUSE_POOL
from orchestration.reporting import (
    MONTHLY_BUSINESS_REVIEW,
    REPORT_RUNS_COLUMNS,
    WEEKLY_CHURN_RISK,
    WEEKLY_USAGE_COST,
    DeliveryResult,
    RenderedReport,
    deliver,
    load_delivery_config,
    render_report,
    report_run_record,
)
from orchestration.reporting import delivery as delivery_library
from orchestration.reporting.delivery import verify_folder
from orchestration.reporting.specs import iso_week_label
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import Settings, secrets_environ

REPORTS_GROUP = "reports"
RUNS_SCHEMA, RUNS_TABLE = "reports", "report_runs"
FULLY_DELIVERED_CHECK = "fully_delivered"
DELIVERY_LOGGER = delivery_library.logger.name
MONTHLY_REPORTS_JOB = "monthly_reports_job"
WEEKLY_REPORTS_JOB = "weekly_reports_job"

RUNS_DDL = f"""
CREATE TABLE IF NOT EXISTS {RUNS_SCHEMA}.{RUNS_TABLE} (
    run_id TEXT NOT NULL,
    report TEXT NOT NULL,
    period TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL,
    files TEXT NOT NULL,
    recipients TEXT NOT NULL,
    deliveries TEXT NOT NULL,
    error TEXT
)
"""


def report_key(report: str) -> dg.AssetKey:
    return dg.AssetKey([REPORTS_GROUP, report])


def _dependency_keys(tables: tuple[tuple[str, str], ...]) -> list[dg.AssetKey]:
    return [dg.AssetKey([schema, name]) for schema, name in tables]


@dataclass(frozen=True)
class ReportSpec:
    """How one report asset turns its partition into a period and reads its inputs."""

    report: str
    description: str
    tables: tuple[tuple[str, str], ...]
    period_of: Callable[[str], queries.ReportPeriod]  # partition key -> period
    read: Callable[[WarehouseResource, queries.ReportPeriod, str], object]  # -> the report's input dataclass


def month_period(partition_key: str) -> queries.ReportPeriod:
    """'2026-10-01' (monthly partition) -> period '2026-10'."""
    return queries.ReportPeriod.month(partition_key[:7])


def week_period(partition_key: str) -> queries.ReportPeriod:
    """'2026-10-19' (weekly partition starting Monday) -> ISO week '2026-W43'."""
    return queries.ReportPeriod.iso_week(iso_week_label(dt.date.fromisoformat(partition_key)))


REPORT_SPECS = (
    ReportSpec(
        MONTHLY_BUSINESS_REVIEW,
        "Monthly business review of a closed month: MRR, movements, plan mix, retention, cash, margin, "
        "forecast, accounts at risk, open alerts.",
        queries.MONTHLY_REVIEW_TABLES,
        month_period,
        queries.monthly_review_data,
    ),
    ReportSpec(
        WEEKLY_USAGE_COST,
        "Weekly usage & cost (ISO week): usage and cost by service and model, cost vs forecast, customer "
        "margins, latency and errors, anomalies, cost recommendations.",
        queries.WEEKLY_USAGE_TABLES,
        week_period,
        queries.weekly_usage_data,
    ),
    ReportSpec(
        WEEKLY_CHURN_RISK,
        "Weekly churn-risk list for customer success: high and medium risk customers from the newest churn "
        "model snapshot closed by the week's end.",
        queries.CHURN_RISK_TABLES,
        week_period,
        queries.churn_risk_data,
    ),
)


# ---- partitions ------------------------------------------------------------------------------------------------------


def monthly_partitions(settings: Settings) -> dg.MonthlyPartitionsDefinition:
    """Calendar months from the month of the data's start (a month-end snapshot exists for it)."""
    start = settings.simulator.resolved_start().replace(day=1)
    return dg.MonthlyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC")


def weekly_partitions(settings: Settings) -> dg.WeeklyPartitionsDefinition:
    """ISO weeks (Monday to Sunday), from the first Monday on or after the data's start."""
    start = settings.simulator.resolved_start()
    first_monday = start + dt.timedelta(days=(7 - start.weekday()) % 7)
    return dg.WeeklyPartitionsDefinition(start_date=first_monday.isoformat(), day_offset=1, timezone="UTC")


def latest_complete_partitions(as_of: dt.date) -> dict[str, str]:
    """Report job -> partition key of the last closed month / last complete ISO week at the end of `as_of` (what a
    demo run renders after the main job; the schedules pick the same periods on their ticks)."""
    sunday = as_of - dt.timedelta(days=as_of.isoweekday() % 7)
    month = (as_of.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return {MONTHLY_REPORTS_JOB: month.isoformat(), WEEKLY_REPORTS_JOB: (sunday - dt.timedelta(days=6)).isoformat()}


# ---- run log ---------------------------------------------------------------------------------------------------------


def record_run(warehouse: WarehouseResource, record: Mapping[str, object]) -> None:
    """Append one row to reports.report_runs (schema and table created on first use).

    Appended through the engine's bulk path with an explicit Arrow schema, so a NULL error binds as text on both
    engines."""
    import pyarrow as pa  # not imported at code-location load (orchestration/lazy.py)

    schema = pa.schema(
        [(c, pa.timestamp("us") if c in ("started_at", "finished_at") else pa.string()) for c in REPORT_RUNS_COLUMNS]
    )
    row = pa.Table.from_pylist([{c: record[c] for c in REPORT_RUNS_COLUMNS}], schema=schema)
    with warehouse.connect() as session:
        session.execute(f"CREATE SCHEMA IF NOT EXISTS {RUNS_SCHEMA}")
        session.execute(RUNS_DDL)
        session.bulk_load(RUNS_SCHEMA, RUNS_TABLE, row)


def failed_run_record(
    report: str, period: str, *, run_id: str, started_at: dt.datetime, error: BaseException
) -> dict[str, object]:
    """The run-log row of a run that produced no report (missing input, broken data)."""
    return {
        "run_id": run_id,
        "report": report,
        "period": period,
        "started_at": started_at,
        "finished_at": _now(),
        "status": "failed",
        "files": "[]",
        "recipients": "[]",
        "deliveries": "[]",
        "error": f"{type(error).__name__}: {error}",
    }


def _now() -> dt.datetime:
    """UTC wall time as a naive timestamp (the run log's TIMESTAMP columns are UTC)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# ---- metadata --------------------------------------------------------------------------------------------------------


def _files_table(rendered: RenderedReport) -> dg.TableMetadataValue:
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord({"file": f.path.name, "kind": f.kind, "sha256": f.sha256, "bytes": f.size_bytes})
            for f in rendered.files
        ],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn("file", "string"),
                dg.TableColumn("kind", "string"),
                dg.TableColumn("sha256", "string"),
                dg.TableColumn("bytes", "int"),
            ]
        ),
    )


def _deliveries_table(results: list[DeliveryResult]) -> dg.TableMetadataValue:
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord(
                {
                    "channel": r.channel,
                    "status": r.status,
                    "target": r.target,
                    "attempts": r.attempts,
                    "error": r.error or "",
                }
            )
            for r in results
        ],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn("channel", "string"),
                dg.TableColumn("status", "string"),
                dg.TableColumn("target", "string"),
                dg.TableColumn("attempts", "int"),
                dg.TableColumn("error", "string"),
            ]
        ),
    )


def _metadata_value(value: object) -> object:
    if isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, default=str)


def report_metadata(
    rendered: RenderedReport, results: list[DeliveryResult], record: Mapping[str, object]
) -> dict[str, object]:
    metadata: dict[str, object] = {
        "period": rendered.period,
        "status": str(record["status"]),
        "directory": dg.MetadataValue.path(str(rendered.directory)),
        "html": dg.MetadataValue.url(rendered.html.resolve().as_uri()),
        "pdf": dg.MetadataValue.path(str(rendered.pdf)),
        "files": _files_table(rendered),
        "deliveries": _deliveries_table(results),
        "highlights": dg.MetadataValue.md("\n".join(f"- {h}" for h in rendered.highlights)),
        "render_seconds": round(sum(rendered.timings_s.values()), 2),
    }
    if record["error"]:
        metadata["delivery_error"] = str(record["error"])
    for name, value in rendered.summary.items():
        if value is not None:
            metadata[f"summary/{name}"] = _metadata_value(value)
    return metadata


# ---- the assets ------------------------------------------------------------------------------------------------------


class _ToDagsterLog(logging.Handler):
    """Forwards the delivery library's log records (each failed attempt, each delivery) to the run's log."""

    def __init__(self, log: dg.DagsterLogManager) -> None:
        super().__init__(level=logging.INFO)
        self.dagster_log = log

    def emit(self, record: logging.LogRecord) -> None:
        self.dagster_log.log(record.levelno, record.getMessage())


@contextlib.contextmanager
def _library_logs_to(log: dg.DagsterLogManager) -> Iterator[None]:
    handler = _ToDagsterLog(log)
    library_logger = logging.getLogger(DELIVERY_LOGGER)
    library_logger.addHandler(handler)
    try:
        yield
    finally:
        library_logger.removeHandler(handler)


def _deliver(
    rendered: RenderedReport, settings: Settings, environ: Mapping[str, str], log: dg.DagsterLogManager
) -> tuple[list[DeliveryResult], str | None]:
    """Deliver by every configured channel; an invalid reports.yaml leaves the files in the folder and is an error."""
    try:
        config = load_delivery_config(settings.reports_config, environ)
    except Exception as exc:  # DeliveryConfigError, unreadable file: the folder copy still stands
        log.error(f"report {rendered.report} {rendered.period}: delivery config {settings.reports_config}: {exc}")
        return [verify_folder(rendered)], f"delivery config: {exc}"
    with _library_logs_to(log):
        return deliver(rendered, config, rendered.report), None


def _report_asset(
    spec: ReportSpec,
    settings: Settings,
    partitions_def: dg.PartitionsDefinition,
    environ: Mapping[str, str] | None,
) -> dg.AssetsDefinition:
    key = report_key(spec.report)

    @dg.asset(
        key=key,
        group_name=REPORTS_GROUP,
        description=spec.description,
        partitions_def=partitions_def,
        deps=_dependency_keys(spec.tables),
        check_specs=[
            dg.AssetCheckSpec(
                FULLY_DELIVERED_CHECK,
                asset=key,
                description="Every configured channel (folder, e-mail, webhook) delivered the report.",
            )
        ],
        pool=WAREHOUSE_POOL,  # appends to reports.report_runs
        kinds={"python", "pdf"},
    )
    def _report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        period = spec.period_of(context.partition_key)
        started_at = _now()
        try:
            if period.last_day > settings.data_as_of():
                raise queries.ReportInputMissingError(
                    f"{spec.report} {period.label} ends {period.last_day}, after the data's as-of date "
                    f"{settings.data_as_of()}: only complete periods are reported"
                )
            data = spec.read(warehouse, period, settings.reporting_currency)
            rendered = render_report(spec.report, data, settings.reports_dir, mask_names=settings.mask_customer_names)
        except Exception as exc:
            record_run(
                warehouse,
                failed_run_record(spec.report, period.label, run_id=context.run_id, started_at=started_at, error=exc),
            )
            raise
        secrets = secrets_environ() if environ is None else environ
        results, config_error = _deliver(rendered, settings, secrets, context.log)
        record = report_run_record(rendered, results, run_id=context.run_id, started_at=started_at, finished_at=_now())
        if config_error:
            record = {**record, "status": "partial", "error": "; ".join(filter(None, [config_error, record["error"]]))}
        record_run(warehouse, record)
        metadata = report_metadata(rendered, results, record)
        if record["status"] == "failed":  # files missing or altered: nothing intact was delivered
            raise dg.Failure(
                description=f"report {spec.report} {period.label}: files not intact: {record['error']}",
                metadata=metadata,
            )
        delivered = record["status"] == "delivered"
        if not delivered:
            context.log.warning(f"report {spec.report} {period.label} not fully delivered: {record['error']}")
        return dg.MaterializeResult(
            metadata=metadata,
            check_results=[
                dg.AssetCheckResult(
                    check_name=FULLY_DELIVERED_CHECK,
                    asset_key=key,
                    passed=delivered,
                    severity=dg.AssetCheckSeverity.WARN,
                    description=None if delivered else f"not fully delivered: {record['error']}",
                    metadata={"status": str(record["status"]), "deliveries": _deliveries_table(results)},
                )
            ],
        )

    return _report


def build_report_assets(settings: Settings, environ: Mapping[str, str] | None = None) -> list[dg.AssetsDefinition]:
    """The three report assets. `environ` resolves reports.yaml's `*_env` secrets (default: the process's, read
    at run time through settings.secrets_environ)."""
    monthly, weekly = monthly_partitions(settings), weekly_partitions(settings)
    return [
        _report_asset(spec, settings, monthly if spec.report == MONTHLY_BUSINESS_REVIEW else weekly, environ)
        for spec in REPORT_SPECS
    ]


def build_report_jobs() -> list["dg.UnresolvedAssetJobDefinition"]:
    """One job per cadence (the assets' partitions decide the period): monthly review; both weekly reports."""
    return [
        dg.define_asset_job(
            MONTHLY_REPORTS_JOB,
            selection=dg.AssetSelection.assets(report_key(MONTHLY_BUSINESS_REVIEW)),
            description="Render and deliver the monthly business review for a month.",
        ),
        dg.define_asset_job(
            WEEKLY_REPORTS_JOB,
            selection=dg.AssetSelection.assets(report_key(WEEKLY_USAGE_COST), report_key(WEEKLY_CHURN_RISK)),
            description="Render and deliver the weekly usage & cost and churn-risk reports for an ISO week.",
        ),
    ]
