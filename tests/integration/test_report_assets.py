"""The report assets on the simulated warehouse (each engine): ML assets, then the three reports for the last closed
month / last complete ISO week, materialized with Dagster; numbers in HTML, PDF text and XLSX cells against direct
SQL on the marts; one reports.report_runs row per run with the files' checksums; a failing webhook shows as a
partial delivery (warning check) with the files kept; a missing input fails with a message naming it.

(Delivery mechanics — SMTP, webhook, retries — are covered by tests/unit/test_reporting_delivery.py.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import socket
from dataclasses import dataclass, replace
from pathlib import Path

import dagster as dg
import openpyxl
import pandas as pd
import pytest
from pypdf import PdfReader

from orchestration.assets.ml import build_ml_assets
from orchestration.assets.report_queries import MONTHLY_REVIEW_TABLES, WEEKLY_USAGE_TABLES
from orchestration.assets.reports import (
    FULLY_DELIVERED_CHECK,
    build_report_assets,
    build_report_jobs,
    report_key,
    weekly_partitions,
)
from orchestration.reporting.formatting import integer, money, month_label, pct
from orchestration.reporting.specs import add_months, iso_week_label
from orchestration.resources.warehouse import WarehouseResource
from orchestration.schedules import MONTHLY_REPORTS_SCHEDULE, WEEKLY_REPORTS_SCHEDULE, build_report_schedules
from orchestration.settings import Settings
from tests.integration.simulated_warehouse import dbt_node_statuses

pytestmark = pytest.mark.slow

ML_SELECTION = [
    "ml/churn_model",
    "ml/churn_predictions",
    "ml/mrr_forecast",
    "ml/forecast_backtests",
    "ml/metric_alerts",
    "ml/cost_recommendations",
]
MBR, USAGE, CHURN = "monthly_business_review", "weekly_usage_cost", "weekly_churn_risk"
WEBHOOK_ENV = "TEST_REPORTS_WEBHOOK_URL"


def closed_port() -> int:
    """A local port nobody listens on (connection refused: a webhook that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Materialized:
    settings: Settings
    warehouse: WarehouseResource
    month: dt.date  # the last closed month
    monday: dt.date  # the last complete ISO week
    results: dict[str, dg.ExecuteInProcessResult]
    instance: dg.DagsterInstance

    def directory(self, report: str) -> Path:
        period = f"{self.month:%Y-%m}" if report == MBR else iso_week_label(self.monday)
        return self.settings.reports_dir / report / period

    def file(self, report: str, kind: str) -> Path:
        directory = self.directory(report)
        return directory / f"{report}_{directory.name}.{kind}"

    def materialization(self, report: str) -> dg.AssetMaterialization:
        events = self.results[report].get_asset_materialization_events()
        return next(e.materialization for e in events if e.materialization.asset_key == report_key(report))

    def check(self, report: str) -> dg.AssetCheckEvaluation:
        evaluations = self.results[report].get_asset_check_evaluations()
        return next(e for e in evaluations if e.check_name == FULLY_DELIVERED_CHECK)


@pytest.fixture(scope="module")
def materialized(built_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Materialized:
    out = tmp_path_factory.mktemp("report_assets")
    config = out / "reports.yaml"
    # The churn list goes to a webhook that is down: one attempt, then a partial delivery.
    config.write_text(
        f"webhook:\n  url_env: {WEBHOOK_ENV}\n  timeout_s: 2\nretry:\n  attempts: 2\n  initial_wait_s: 0\n"
        f"reports:\n  {CHURN}:\n    webhook: true\n"
    )
    statuses = dbt_node_statuses(built_warehouse)
    marts = {name for schema, name in MONTHLY_REVIEW_TABLES + WEEKLY_USAGE_TABLES if schema == "marts"}
    broken = {m: statuses.get(f"model.saas_metrics.{m}") for m in sorted(marts | {"customer_features_monthly"})}
    broken = {m: status for m, status in broken.items() if status != "success"}
    assert not broken, f"dbt build did not build marts the reports (or the ML assets) read: {broken}"
    settings = replace(built_warehouse, reports_dir=out / "reports", reports_config=config)
    warehouse = WarehouseResource.from_settings(settings)
    resources = {"warehouse": warehouse}
    ml = dg.materialize(build_ml_assets(settings), selection=ML_SELECTION, resources=resources)
    assert ml.success

    as_of = settings.data_as_of()
    month = add_months(as_of.replace(day=1), -1)
    sunday = as_of - dt.timedelta(days=as_of.isoweekday() % 7)
    monday = sunday - dt.timedelta(days=6)
    reports = build_report_assets(settings, environ={WEBHOOK_ENV: f"http://127.0.0.1:{closed_port()}/hook"})
    instance = dg.DagsterInstance.ephemeral()
    results = {
        report: dg.materialize(
            reports, selection=[report_key(report)], partition_key=key, resources=resources, instance=instance
        )
        for report, key in ((MBR, month.isoformat()), (USAGE, monday.isoformat()), (CHURN, monday.isoformat()))
    }
    return Materialized(settings, warehouse, month, monday, results, instance)


def closed_by(monday: dt.date) -> dt.date:
    """The last month closed by the end of the week starting `monday` (the churn snapshot the week lists)."""
    return add_months((monday + dt.timedelta(days=7)).replace(day=1), -1)


def pdf_text(path: Path) -> str:
    return re.sub(r"[ \t]+", " ", "\n".join(page.extract_text() for page in PdfReader(path).pages))


def sheet_rows(path: Path, sheet: str) -> list[dict[str, object]]:
    rows = list(openpyxl.load_workbook(path, read_only=True)[sheet].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def one_row(warehouse: WarehouseResource, sql: str, params: list[object]) -> dict[str, object]:
    frame = warehouse.query_df(sql, params)
    assert len(frame) == 1, (sql, params, frame)
    return frame.iloc[0].to_dict()


# ---- numbers against the marts ---------------------------------------------------------------------------------------


def test_monthly_review_numbers_match_the_marts(materialized: Materialized) -> None:
    wh, month = materialized.warehouse, materialized.month
    kpi = one_row(
        wh,
        "SELECT mrr, arr, paying_customers, nrr_trailing_12m, is_closed_month FROM marts.kpi_monthly WHERE month = $1",
        [month],
    )
    movements = one_row(
        wh, "SELECT starting_mrr, new_mrr, churned_mrr, ending_mrr FROM marts.mrr_movements WHERE month = $1", [month]
    )
    billings = one_row(
        wh, "SELECT sum(billings_reporting) AS billings FROM marts.billing_monthly WHERE month = $1", [month]
    )
    assert kpi["is_closed_month"]
    html = materialized.file(MBR, "html").read_text(encoding="utf-8")
    pdf = pdf_text(materialized.file(MBR, "pdf"))
    for text in (money(kpi["mrr"]), money(kpi["arr"]), integer(kpi["paying_customers"]), pct(kpi["nrr_trailing_12m"])):
        assert text in html and text in pdf, text

    xlsx = materialized.file(MBR, "xlsx")
    headline = {row["Metric"]: row["Value"] for row in sheet_rows(xlsx, "headline_kpis")}
    assert headline["MRR"] == pytest.approx(float(kpi["mrr"]), abs=0.005)
    assert headline["Paying customers"] == kpi["paying_customers"]
    waterfall = {row["Movement"]: row["Amount"] for row in sheet_rows(xlsx, "mrr_movements")}
    assert waterfall["Starting MRR"] == pytest.approx(float(movements["starting_mrr"]), abs=0.005)
    assert waterfall["New"] == pytest.approx(float(movements["new_mrr"]), abs=0.005)
    assert waterfall["Churn"] == pytest.approx(float(movements["churned_mrr"]), abs=0.005)
    assert waterfall["Ending MRR"] == pytest.approx(float(kpi["mrr"]), abs=0.005)
    cash = {row["Month"].date().replace(day=1): row for row in sheet_rows(xlsx, "cash_view")}
    assert cash[month]["Billings"] == pytest.approx(float(billings["billings"]), abs=0.005)


def test_weekly_usage_numbers_match_the_marts(materialized: Materialized) -> None:
    wh, monday = materialized.warehouse, materialized.monday
    sunday = monday + dt.timedelta(days=6)
    week = one_row(
        wh,
        "SELECT sum(cost_usd) AS cost, sum(requests) AS requests, sum(total_tokens) AS tokens "
        "FROM marts.fct_usage_daily WHERE usage_date BETWEEN $1 AND $2",
        [monday, sunday],
    )
    chat = one_row(
        wh,
        "SELECT sum(requests) AS requests, sum(failed_requests) AS failed FROM marts.service_performance_daily "
        "WHERE service = 'chat' AND usage_date BETWEEN $1 AND $2",
        [monday, sunday],
    )
    html = materialized.file(USAGE, "html").read_text(encoding="utf-8")
    pdf = pdf_text(materialized.file(USAGE, "pdf"))
    for text in (money(week["cost"]), integer(week["requests"]), integer(week["tokens"])):
        assert text in html and text in pdf, text

    xlsx = materialized.file(USAGE, "xlsx")
    services = sheet_rows(xlsx, "usage_by_service")
    assert sum(r["Cost"] for r in services) == pytest.approx(float(week["cost"]), abs=1e-6)
    assert sum(r["Requests"] for r in services) == week["requests"]
    performance = {r["Service"]: r for r in sheet_rows(xlsx, "service_performance")}
    assert performance["chat"]["Requests"] == chat["requests"]
    assert performance["chat"]["Error rate"] == pytest.approx(float(chat["failed"]) / float(chat["requests"]))
    summary = materialized.materialization(USAGE).metadata
    assert summary["summary/cost_usd"].value == pytest.approx(float(week["cost"]))


def test_churn_risk_lists_every_high_and_medium_customer_of_the_snapshot(materialized: Materialized) -> None:
    wh = materialized.warehouse
    listed = wh.query_df(
        "SELECT p.customer_external_id, c.customer_name, p.risk_band, p.mrr_at_risk FROM ml.churn_predictions AS p "
        "JOIN marts.dim_customers AS c ON c.customer_id = p.customer_external_id "
        "WHERE p.risk_band IN ('high', 'medium') AND p.snapshot_month = $1",
        [closed_by(materialized.monday)],
    )
    assert len(listed) > 0
    rows = sheet_rows(materialized.file(CHURN, "xlsx"), "churn_risk_list")
    assert sorted(r["ID"] for r in rows) == sorted(listed["customer_external_id"])
    assert sum(r["MRR at risk"] for r in rows) == pytest.approx(listed["mrr_at_risk"].sum())
    html = materialized.file(CHURN, "html").read_text(encoding="utf-8")
    high = listed[listed["risk_band"] == "high"]
    assert f"{len(high)} high-risk customers ({money(high['mrr_at_risk'].sum())} MRR at risk)" in html
    assert all(name in html for name in listed["customer_name"])
    sunday = materialized.monday + dt.timedelta(days=6)
    assert all(r["Last active"] is None or r["Last active"].date() <= sunday for r in rows)


# ---- run log, files, delivery status ---------------------------------------------------------------------------------


def test_each_run_appends_one_report_runs_row_with_the_files_checksums(materialized: Materialized) -> None:
    for report, result in materialized.results.items():
        row = one_row(materialized.warehouse, "SELECT * FROM reports.report_runs WHERE run_id = $1", [result.run_id])
        directory = materialized.directory(report)
        assert (row["report"], row["period"]) == (report, directory.name)
        files = json.loads(row["files"])
        assert {f["name"] for f in files} == {p.name for p in directory.iterdir()}
        for file in files:
            payload = (directory / file["name"]).read_bytes()
            assert file["sha256"] == hashlib.sha256(payload).hexdigest() and file["bytes"] == len(payload)
        metadata = materialized.materialization(report).metadata
        assert {r.data["file"]: r.data["sha256"] for r in metadata["files"].value.records} == {
            f["name"]: f["sha256"] for f in files
        }
        assert row["started_at"] <= row["finished_at"]


def test_fully_delivered_reports_pass_the_delivery_check(materialized: Materialized) -> None:
    for report in (MBR, USAGE):
        row = one_row(
            materialized.warehouse,
            "SELECT status, error FROM reports.report_runs WHERE run_id = $1",
            [materialized.results[report].run_id],
        )
        assert row["status"] == "delivered" and pd.isna(row["error"])
        assert materialized.check(report).passed


def test_a_failed_webhook_is_a_partial_delivery_with_a_warning_and_the_files_kept(materialized: Materialized) -> None:
    row = one_row(
        materialized.warehouse,
        "SELECT status, error, deliveries FROM reports.report_runs WHERE run_id = $1",
        [materialized.results[CHURN].run_id],
    )
    assert row["status"] == "partial"
    assert row["error"].startswith("webhook: ")
    webhook = next(d for d in json.loads(row["deliveries"]) if d["channel"] == "webhook")
    assert (webhook["status"], webhook["attempts"]) == ("failed", 2)
    assert materialized.results[CHURN].success  # the files are delivered to the folder; the check warns
    check = materialized.check(CHURN)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert materialized.materialization(CHURN).metadata["status"].value == "partial"
    assert materialized.file(CHURN, "pdf").exists()
    messages = [e.user_message for e in materialized.instance.all_logs(materialized.results[CHURN].run_id)]
    assert any("webhook delivery attempt 1 failed" in m for m in messages)  # each attempt is in the run's log
    assert any("not fully delivered" in m for m in messages)


def test_a_period_without_its_inputs_fails_naming_the_table_and_is_logged(materialized: Materialized) -> None:
    settings = materialized.settings
    # the first week of data: no month had closed by its end, so there is no churn snapshot to list
    first_week = weekly_partitions(settings).get_first_partition_key()
    result = dg.materialize(
        build_report_assets(settings, environ={}),
        selection=[report_key(CHURN)],
        partition_key=first_week,
        resources={"warehouse": materialized.warehouse},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "ml.churn_predictions has no snapshot at or before" in failure.event_specific_data.error.to_string()
    row = one_row(
        materialized.warehouse,
        "SELECT status, files, error FROM reports.report_runs WHERE run_id = $1",
        [result.run_id],
    )
    assert (row["status"], row["files"]) == ("failed", "[]")
    assert "ml.churn_predictions" in row["error"]


def test_past_periods_show_their_own_snapshot_and_rerender_identically(
    materialized: Materialized, tmp_path: Path
) -> None:
    """After the current reports: a month and a week half a year back render from the snapshot of their time
    (scored retrospectively by the first scoring run, so footnoted), and render the same bytes again after a
    daily re-scoring."""
    settings = replace(materialized.settings, reports_dir=tmp_path, reports_config=tmp_path / "none.yaml")
    wh = materialized.warehouse
    month, monday = add_months(materialized.month, -6), materialized.monday - dt.timedelta(weeks=26)
    week_snapshot = closed_by(monday)
    partitions = {MBR: month.isoformat(), CHURN: monday.isoformat()}

    def render() -> dict[str, dict[str, str]]:
        reports = build_report_assets(settings, environ={})
        checksums = {}
        for report, key in partitions.items():
            result = dg.materialize(
                reports, selection=[report_key(report)], partition_key=key, resources={"warehouse": wh}
            )
            assert result.success, report
            directory = tmp_path / report / (f"{month:%Y-%m}" if report == MBR else iso_week_label(monday))
            checksums[report] = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir()}
        return checksums

    first = render()
    mbr_html = (tmp_path / MBR / f"{month:%Y-%m}" / f"{MBR}_{month:%Y-%m}.html").read_text(encoding="utf-8")
    assert f"Churn model snapshot {month_label(month)}*" in mbr_html
    assert f"The {month_label(month)} churn snapshot was scored retrospectively" in mbr_html
    week = iso_week_label(monday)
    churn_dir = tmp_path / CHURN / week
    churn_html = (churn_dir / f"{CHURN}_{week}.html").read_text(encoding="utf-8")
    assert f"model snapshot {month_label(week_snapshot)}*" in churn_html
    assert "scored retrospectively" in pdf_text(churn_dir / f"{CHURN}_{week}.pdf")
    listed = wh.query_df(
        "SELECT customer_external_id FROM ml.churn_predictions WHERE snapshot_month = $1 AND risk_band IN "
        "('high', 'medium') AND scored_retrospectively",
        [week_snapshot],
    )
    rows = sheet_rows(churn_dir / f"{CHURN}_{week}.xlsx", "churn_risk_list")
    assert len(rows) > 0 and sorted(r["ID"] for r in rows) == sorted(listed["customer_external_id"])

    past = (  # every snapshot but the latest, which the daily run re-scores
        "SELECT * FROM ml.churn_predictions "
        "WHERE snapshot_month < (SELECT max(snapshot_month) FROM ml.churn_predictions)"
    )
    before = wh.query_df(past)
    rescoring = [a for a in build_ml_assets(settings) if dg.AssetKey(["ml", "churn_predictions"]) in a.keys]
    assert dg.materialize(rescoring, resources={"warehouse": wh}).success  # the daily scoring run
    after = wh.query_df(past)
    order = ["snapshot_month", "customer_external_id"]
    pd.testing.assert_frame_equal(
        after.sort_values(order).reset_index(drop=True), before.sort_values(order).reset_index(drop=True)
    )
    assert render() == first


def test_masked_names_never_reach_the_files(materialized: Materialized, tmp_path: Path) -> None:
    settings = replace(materialized.settings, reports_dir=tmp_path, reports_config=tmp_path / "none.yaml")
    names = materialized.warehouse.query_df(
        "SELECT c.customer_name FROM ml.churn_predictions AS p "
        "JOIN marts.dim_customers AS c ON c.customer_id = p.customer_external_id"
    )["customer_name"]
    result = dg.materialize(
        build_report_assets(replace(settings, mask_customer_names=True), environ={}),
        selection=[report_key(CHURN)],
        partition_key=materialized.monday.isoformat(),
        resources={"warehouse": materialized.warehouse},
    )
    assert result.success
    directory = tmp_path / CHURN / iso_week_label(materialized.monday)
    html = (directory / f"{CHURN}_{directory.name}.html").read_text(encoding="utf-8")
    pdf = pdf_text(directory / f"{CHURN}_{directory.name}.pdf")
    csv = (directory / "churn_risk_list.csv").read_text(encoding="utf-8")
    assert not [name for name in names if name in html or name in pdf or name in csv]


# ---- wiring: partitions, jobs, schedules -----------------------------------------------------------------------------


def test_report_assets_jobs_and_schedules_target_the_period_that_just_ended() -> None:
    settings = Settings(simulator=replace(Settings().simulator, start_date=dt.date(2025, 9, 3)))
    monthly_job, weekly_job = build_report_jobs()
    defs = dg.Definitions(
        assets=build_report_assets(settings, environ={}),
        jobs=[monthly_job, weekly_job],
        schedules=build_report_schedules(monthly_job, weekly_job),
        resources={"warehouse": WarehouseResource.from_settings(settings)},
    )
    graph = defs.resolve_asset_graph()
    for report in (MBR, USAGE, CHURN):
        node = graph.get(report_key(report))
        assert node.group_name == "reports"
        assert dg.AssetKey(["ml", "churn_predictions" if report != USAGE else "cost_recommendations"]) in (
            node.parent_keys
        )
    monthly = graph.get(report_key(MBR)).partitions_def
    weekly = graph.get(report_key(USAGE)).partitions_def
    assert monthly.get_first_partition_key() == "2025-09-01"
    assert weekly.get_first_partition_key() == "2025-09-08"  # the first Monday on or after the start
    assert all(dt.date.fromisoformat(k).isoweekday() == 1 for k in weekly.get_partition_keys()[:5])

    expected = {
        MONTHLY_REPORTS_SCHEDULE: ("0 6 1 * *", dt.datetime(2026, 11, 1, 6, tzinfo=dt.UTC), "2026-10-01"),
        WEEKLY_REPORTS_SCHEDULE: ("0 6 * * 1", dt.datetime(2026, 10, 26, 6, tzinfo=dt.UTC), "2026-10-19"),
    }
    for name, (cron, tick, partition) in expected.items():
        schedule = defs.resolve_schedule_def(name)
        assert (schedule.cron_schedule, schedule.execution_timezone) == (cron, "UTC")
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
        with dg.instance_for_test() as instance:
            context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
            requests = schedule.evaluate_tick(context).run_requests
        assert [r.partition_key for r in requests] == [partition]
    assert iso_week_label(dt.date(2026, 10, 19)) == "2026-W43"
