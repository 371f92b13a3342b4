"""GX suites as asset checks, on each engine: the suites pass on the simulated company, failures name their columns
and offending keys, a failed raw check blocks the downstream dbt models in the same run, and dbt source freshness
becomes freshness policies on the raw assets."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from dagster._core.definitions.freshness import TimeWindowFreshnessPolicy

from orchestration.checks import GX_CHECK_NAME, build_freshness_policies, build_quality_checks, gx_check_key
from orchestration.checks.gx import (
    EXPECTATIONS_DIR,
    _arrow_to_pandas,
    gx_context,
    load_guarded_table,
    load_guarded_tables,
    validate_table,
)
from orchestration.definitions import build_definitions
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import Settings
from orchestration.sources import schemas
from orchestration.sources.demo import write_demo_sources
from orchestration.sources.simulator import SimulatorConfig

RAW_SUITES = {f"raw.{t.raw_name}" for t in schemas.ALL_TABLES}
MART_SUITES = {
    "marts.fct_mrr",
    "marts.mrr_movements",
    "marts.kpi_monthly",
    "marts.customer_margin_monthly",
    "ml.churn_predictions",
}


@pytest.fixture(scope="module")
def gx():
    return gx_context()


def _expectations(table, type_: str) -> list[dict]:
    return [e for e in table.suite["expectations"] if e["type"] == type_]


def test_one_suite_per_guarded_table_consistent_with_the_source_contract() -> None:
    tables = {t.suite_name: t for t in load_guarded_tables()}
    assert set(tables) == RAW_SUITES | MART_SUITES
    for source in schemas.ALL_TABLES:
        table = tables[f"raw.{source.raw_name}"]
        assert table.blocking and table.asset_key == ("raw", source.raw_name)
        assert all(e.get("severity", "critical") == "critical" for e in table.suite["expectations"])  # ERROR
        in_set = {
            e["kwargs"]["column"]: e["kwargs"]["value_set"]
            for e in _expectations(table, "expect_column_values_to_be_in_set")
        }
        for column in source.columns:
            if column.enum is schemas.CURRENCY_CODES:  # the contract's list, supplied when the check runs
                assert in_set[column.name] == {"$PARAMETER": "currency_codes"}, (source.key, column.name)
            elif column.enum:  # enum codes: exactly the contract's known set
                assert in_set[column.name] == list(column.enum), (source.key, column.name)
        not_null = {e["kwargs"]["column"] for e in _expectations(table, "expect_column_values_to_not_be_null")}
        assert set(source.primary_key) <= not_null
    spend = tables["raw.litellm_spendlogs"]
    assert spend.scope == "latest_load" and "max_plausible_spend" in spend.derived_columns
    # The MRR identities are critical (ERROR, blocking); other mart expectations warn.
    for name, column in (("marts.mrr_movements", "identity_gap"), ("marts.fct_mrr", "customer_identity_gap")):
        identity = [e for e in tables[name].suite["expectations"] if e["kwargs"].get("column") == column]
        assert identity and identity[0]["severity"] == "critical" and identity[0]["kwargs"]["max_value"] == 0.01
    assert {e["severity"] for e in tables["marts.kpi_monthly"].suite["expectations"]} == {"warning"}


def test_suites_pass_on_the_simulated_company(built_warehouse: Settings, gx) -> None:
    warehouse = WarehouseResource.from_settings(built_warehouse)
    for table in load_guarded_tables():
        if table.layer == "ml":
            continue  # no ML assets in this warehouse; covered by the failure test below
        outcome = validate_table(table, warehouse, context=gx)
        assert outcome.passed, outcome.metadata()
        assert outcome.rows_validated > 0 and outcome.evaluated == table.expectation_count


def test_failures_name_columns_severity_and_offending_keys(make_settings, gx) -> None:
    settings = make_settings("gx_failures")
    warehouse = WarehouseResource.from_settings(settings)
    predictions = pd.DataFrame(
        {
            "customer_external_id": ["c1", "c2", "c2", "c3"],
            "snapshot_month": pd.to_datetime(["2026-09-01"] * 4).date,
            "churn_probability": [0.1, 1.2, 0.3, 0.4],
            "risk_band": ["low", "high", "extreme", "low"],
            "mrr": [10.0, 10.0, 10.0, 10.0],
            "mrr_at_risk": [1.0, 12.0, 3.0, 4.0],
        }
    )
    warehouse.write_table("ml", "churn_predictions", predictions)
    movements = pd.DataFrame(
        {
            "month": pd.to_datetime(["2026-08-01", "2026-09-01"]).date,
            "starting_mrr": [100.0, 110.0],
            "new_mrr": [10.0, 5.0],
            "reactivation_mrr": [0.0, 0.0],
            "expansion_mrr": [0.0, 0.0],
            "contraction_mrr": [0.0, 0.0],
            "churned_mrr": [0.0, -5.0],
            "fx_adjustment": [0.0, 0.0],
            "ending_mrr": [110.0, 110.5],  # September breaks the identity by 0.50
            "logo_churn_rate": [0.0, 0.01],
            "paying_customers": [10, 10],
        }
    )
    warehouse.write_table("marts", "mrr_movements", movements)
    tables = {t.suite_name: t for t in load_guarded_tables()}

    outcome = validate_table(tables["ml.churn_predictions"], warehouse, context=gx)
    assert not outcome.passed and not outcome.critical  # WARN: mart/ml suites are warnings unless marked critical
    failed = {(f.expectation, f.columns): f for f in outcome.failures}
    probability = failed[("expect_column_values_to_be_between", ("churn_probability",))]
    assert probability.unexpected_count == 1
    assert [(k["customer_external_id"], k["snapshot_month"][:10]) for k in probability.sample_keys] == [
        ("c2", "2026-09-01")
    ]
    assert ("expect_compound_columns_to_be_unique", ("customer_external_id", "snapshot_month")) in failed
    assert failed[("expect_column_values_to_be_in_set", ("risk_band",))].unexpected_count == 1
    meta = outcome.metadata()
    assert {"churn_probability", "risk_band", "customer_external_id"} <= set(meta["failing_columns"])
    assert meta["expectations_evaluated"] == tables["ml.churn_predictions"].expectation_count
    assert meta["expectations_failed"] == len(outcome.failures) >= 3
    json.dumps(meta)  # metadata is plain JSON

    outcome = validate_table(tables["marts.mrr_movements"], warehouse, context=gx)
    assert outcome.critical  # the identity is critical: ERROR, and the suite is blocking
    [gap] = [f for f in outcome.failures if f.columns == ("identity_gap",)]
    assert [k["month"][:10] for k in gap.sample_keys] == ["2026-09-01"]

    missing = validate_table(tables["marts.kpi_monthly"], warehouse, context=gx)  # table absent
    assert not missing.passed and missing.critical and "kpi_monthly" in missing.error


def test_currencies_are_checked_against_the_contract_list_supplied_at_run_time(make_settings, gx) -> None:
    settings = make_settings("gx_currencies")
    warehouse = WarehouseResource.from_settings(settings)
    unknown = "ZZZ"
    assert unknown not in schemas.CURRENCY_CODES
    mrr = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "month": pd.to_datetime(["2026-09-01"] * 3).date,
            "mrr": [10.0, 20.0, 30.0],
            "mrr_billing_currency": [10.0, 20.0, 30.0],
            "previous_mrr": [0.0, 20.0, 30.0],
            "fx_rate": [1.0, 1.0, 1.0],
            "currency": ["USD", unknown, schemas.CURRENCY_CODES[-1]],
            "movement_type": ["new", "expansion", "expansion"],
            "fx_adjustment": [0.0, 0.0, 0.0],
            "movement_amount": [10.0, 0.0, 0.0],
        }
    )
    warehouse.write_table("marts", "fct_mrr", mrr)
    suite = {t.suite_name: t for t in load_guarded_tables()}["marts.fct_mrr"]
    outcome = validate_table(suite, warehouse, context=gx)
    failed = {(f.expectation, f.columns): f for f in outcome.failures}
    currency = failed[("expect_column_values_to_be_in_set", ("currency",))]
    assert currency.unexpected_count == 1
    assert [k["customer_id"] for k in currency.sample_keys] == ["c2"]
    assert set(failed) == {("expect_column_values_to_be_in_set", ("currency",))}


def test_not_in_the_future_is_relative_to_the_check_run_time(make_settings, gx) -> None:
    settings = make_settings("gx_future")
    warehouse = WarehouseResource.from_settings(settings)
    table = load_guarded_table(EXPECTATIONS_DIR / "raw.lago_billable_metrics.json")
    created = dt.datetime(2026, 10, 1, 12)
    frame = pd.DataFrame(
        {
            "id": ["m1"],
            "code": ["tokens"],
            "aggregation_type": [1],
            "created_at": [created],
            "updated_at": [created],
            "deleted_at": pd.Series([pd.NaT], dtype="datetime64[us]"),
        }
    )
    warehouse.write_table("raw", "lago_billable_metrics", frame)
    assert validate_table(table, warehouse, now=created + dt.timedelta(hours=1), context=gx).passed
    early = validate_table(table, warehouse, now=created - dt.timedelta(hours=1), context=gx)
    assert {f.columns for f in early.failures} == {("created_at",), ("updated_at",)}
    assert early.failures[0].sample_keys == [{"id": "m1"}]


def test_latest_load_scope_validates_the_newest_load_only(make_settings, gx) -> None:
    """A bad row from an earlier load no longer fails the check; one in the newest load does, and is named."""
    from tests.integration.test_extract import spend_log

    settings = make_settings("gx_latest_load")
    warehouse = WarehouseResource.from_settings(settings)
    table = load_guarded_table(EXPECTATIONS_DIR / "raw.litellm_spendlogs.json")
    start, earlier, latest = dt.datetime(2026, 10, 1, 8), dt.datetime(2026, 10, 2, 1), dt.datetime(2026, 10, 3, 1)

    def load(loaded_at: dt.datetime, *rows: dict) -> pd.DataFrame:
        frame = pd.DataFrame([{**row, "_loaded_at": loaded_at, "_source": "test", "_record_hash": "0"} for row in rows])
        return frame.astype({"completionStartTime": "datetime64[us]"})

    history = load(earlier, spend_log(1, start), spend_log(2, start, spend=-1.0))  # the bad row, loaded earlier
    warehouse.write_table("raw", "litellm_spendlogs", pd.concat([history, load(latest, spend_log(3, start))]))
    outcome = validate_table(table, warehouse, now=latest, context=gx)
    assert outcome.passed, outcome.metadata()

    bad_latest = load(latest, spend_log(3, start), spend_log(4, start, spend=-2.0))
    warehouse.write_table("raw", "litellm_spendlogs", pd.concat([history, bad_latest]))
    outcome = validate_table(table, warehouse, now=latest, context=gx)
    [negative] = [f for f in outcome.failures if f.expectation == "expect_column_values_to_be_between"]
    assert negative.columns == ("spend",) and negative.sample_keys == [{"request_id": "req-000004"}]


# --- blocking, in a real Dagster run -------------------------------------------------------------------------------


def with_demo_sources(settings: Settings, dbt_manifest_path: Path) -> Settings:
    """`settings` with the demo company's source databases written and a private copy of the dbt project (with the
    prepared manifest), so dbt's target/ and logs/ belong to this test alone."""
    project = settings.data_dir / "dbt_project"
    shutil.copytree(dbt_manifest_path.parent.parent, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "target").mkdir()
    shutil.copy2(dbt_manifest_path, project / "target" / "manifest.json")
    settings = replace(settings, dbt_project_dir=project, as_of_date=settings.simulator.resolved_as_of())
    write_demo_sources(
        SimulatorConfig.from_settings(settings.simulator, settings), settings.source_dir, settings.as_of_date
    )
    return settings


@pytest.fixture(scope="module")
def demo_company(make_settings, dbt_manifest_path: Path) -> Settings:
    return with_demo_sources(make_settings("gx_blocking"), dbt_manifest_path)


def _run(defs: dg.Definitions, selection: list[dg.AssetKey], instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(instance=instance, asset_selection=selection, raise_on_error=False)


def _check_evaluations(result: dg.ExecuteInProcessResult) -> dict[dg.AssetKey, dg.AssetCheckEvaluation]:
    return {e.asset_key: e for e in result.get_asset_check_evaluations() if e.check_name == GX_CHECK_NAME}


def test_failed_raw_check_stops_downstream_dbt_models_in_the_same_run(demo_company: Settings) -> None:
    settings = demo_company
    defs = build_definitions(settings)
    raw_keys = [dg.AssetKey(["raw", t.raw_name]) for t in schemas.ALL_TABLES]
    invoices, staging = dg.AssetKey(["raw", "lago_invoices"]), dg.AssetKey(["staging", "stg_lago__invoices"])
    staging_keys = [k for k in defs.resolve_asset_graph().get_all_asset_keys() if k.path[0] == "staging"]
    assert gx_check_key(invoices) in defs.resolve_asset_graph().asset_check_keys
    assert defs.resolve_asset_graph().get(invoices).freshness_policy is not None

    with dg.instance_for_test() as instance:
        # Clean sources: every raw check passes and the staging models build.
        good = _run(defs, raw_keys + staging_keys, instance)
        assert good.success
        evaluations = _check_evaluations(good)
        assert set(evaluations) == set(raw_keys) and all(e.passed for e in evaluations.values())
        assert staging in {e.asset_key for e in good.get_asset_materialization_events()}

        # An invoice issued before the company existed passes the extraction contract (types, required fields,
        # enums, non-negative amounts) but not the GX suite.
        source = settings.source_dir / "lago.duckdb"
        with duckdb.connect(str(source)) as con:
            bad_id = con.execute("SELECT id FROM invoices ORDER BY id LIMIT 1").fetchone()[0]
            con.execute(
                "UPDATE invoices SET issuing_date = DATE '2012-01-31', "
                "updated_at = (SELECT max(updated_at) FROM invoices) + INTERVAL 1 MINUTE WHERE id = ?",
                [bad_id],
            )
        bad = _run(defs, [invoices, staging], instance)
        assert not bad.success
        evaluation = _check_evaluations(bad)[invoices]
        assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR and evaluation.blocking
        meta = evaluation.metadata
        assert meta["failing_columns"].data == ["issuing_date"]
        assert meta["expectations_failed"].value == 1
        assert (
            meta["expectations_evaluated"].value
            == load_guarded_table(EXPECTATIONS_DIR / "raw.lago_invoices.json").expectation_count
        )
        assert meta["failures"].data[0]["sample_keys"] == [{"id": bad_id}]
        # The raw table was loaded (the row is there, for inspection) but nothing downstream ran.
        materialized = {e.asset_key for e in bad.get_asset_materialization_events()}
        assert invoices in materialized and staging not in materialized
        started = {e.step_key for e in bad.all_events if e.event_type == dg.DagsterEventType.STEP_START}
        failed = {e.step_key for e in bad.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE}
        assert "dbt_models" not in started and failed == {"raw_gx_suites"}
        logs = [e.user_message for e in instance.all_logs(bad.run_id)]
        assert any("Dependencies for step dbt_models failed: ['raw_gx_suites']" in m for m in logs)


def test_freshness_policies_follow_dbt_source_freshness(dbt_manifest_path: Path) -> None:
    manifest = json.loads(dbt_manifest_path.read_text())
    policies = build_freshness_policies(manifest)
    expected = {}
    for source in manifest["sources"].values():
        error_after = (source.get("freshness") or {}).get("error_after") or {}
        if error_after.get("count"):
            expected[dg.AssetKey(["raw", source["identifier"]])] = source["freshness"]
    assert set(policies) == set(expected) and expected
    customers = policies[dg.AssetKey(["raw", "lago_customers"])]
    assert isinstance(customers, TimeWindowFreshnessPolicy)
    assert customers.fail_window.to_timedelta() == dt.timedelta(hours=50)
    assert customers.warn_window.to_timedelta() == dt.timedelta(hours=26)
    assert dg.AssetKey(["raw", "lago_plans"]) not in policies  # reference data: freshness null in dbt


def test_checks_are_left_out_for_assets_the_location_does_not_have() -> None:
    checks = build_quality_checks(
        Settings(), {dg.AssetKey(["raw", "lago_customers"]), dg.AssetKey(["marts", "fct_mrr"])}
    )
    keys = {key for c in checks for key in c.check_keys}
    assert keys == {
        gx_check_key(dg.AssetKey(["raw", "lago_customers"])),
        gx_check_key(dg.AssetKey(["marts", "fct_mrr"])),
    }
    assert [c.node_def.name for c in checks] == ["marts_gx_suites", "raw_gx_suites"]


def test_arrow_types_are_validated_vectorized_with_nulls_ignored(make_settings, gx, tmp_path: Path) -> None:
    """Timestamps in µs, dates, int32 with NULLs, decimals and a timestamp beyond pandas' ns range (year 3000) give
    the same results on both engines; on DuckDB the frame GX sees has the dtypes of its vectorized paths."""
    settings = make_settings("gx_arrow_types")
    warehouse = WarehouseResource.from_settings(settings)
    ts = pa.timestamp("us")
    data = pa.table(
        {
            "id": ["k1", "k2", "k3", "k4", "k5"],
            "small": pa.array([1, -2, None, 4, 5], pa.int32()),
            "amount": pa.array(
                [Decimal("1.50"), Decimal("2"), Decimal("-0.01"), None, Decimal("3")], pa.decimal128(18, 2)
            ),
            "at": pa.array(
                [
                    dt.datetime(2020, 1, 1),
                    dt.datetime(2014, 12, 31, 23, 59),
                    None,
                    dt.datetime(2026, 10, 1),
                    dt.datetime(3000, 1, 1),
                ],
                ts,
            ),
            "day": pa.array([dt.date(2020, 1, 1), dt.date(2020, 1, 2), dt.date(2014, 6, 1), None, dt.date(2021, 1, 1)]),
        }
    )
    warehouse.write_table("raw", "typed_values", data)
    since_founding = {"min_value": "2015-01-01T00:00:00", "max_value": {"$PARAMETER": "now"}}
    suite = {
        "name": "raw.typed_values",
        "meta": {
            "guard": {"asset_key": ["raw", "typed_values"], "relation": ["raw", "typed_values"], "key_columns": ["id"]}
        },
        "expectations": [
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "small", "min_value": 0}},
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "min_value": 0}},
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "at", **since_founding}},
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "day", **since_founding}},
        ],
    }
    path = tmp_path / "raw.typed_values.json"
    path.write_text(json.dumps(suite))
    outcome = validate_table(load_guarded_table(path), warehouse, now=dt.datetime(2026, 11, 1), context=gx)

    assert outcome.rows_validated == 5 and outcome.error is None
    failed = {f.columns[0]: (f.unexpected_count, sorted(k["id"] for k in f.sample_keys)) for f in outcome.failures}
    assert failed == {"small": (1, ["k2"]), "amount": (1, ["k3"]), "at": (2, ["k2", "k5"]), "day": (1, ["k3"])}

    frame = _arrow_to_pandas(data)
    assert {c: str(frame[c].dtype) for c in ("small", "amount", "day")} == {
        "small": "float64",  # int32 with a NULL: float64 with NaN
        "amount": "float64",
        "day": "datetime64[ns]",
    }
    assert str(_arrow_to_pandas(data.slice(0, 4))["at"].dtype) == "datetime64[ns]"
    assert frame["at"].iloc[4].year == 3000  # out of the ns range: left as it was, not wrapped around


def test_a_daily_run_has_one_step_per_check_op(dbt_manifest_path: Path, tmp_path: Path) -> None:
    """Every check step is a subprocess that loads the code location and imports GX: the blocking suites run in one
    step per layer, and all non-blocking suites in a single step at the end (not one per upstream dbt/ML step)."""
    from dagster._core.execution.api import create_execution_plan

    from orchestration.jobs import DAILY_REFRESH_JOB_NAME

    settings = Settings(
        data_dir=tmp_path, duckdb_path=tmp_path / "warehouse.duckdb", sources_config=tmp_path / "none.yaml"
    )
    job = build_definitions(settings).resolve_job_def(DAILY_REFRESH_JOB_NAME)
    partition = {"dagster/partition": settings.data_as_of().isoformat()} if job.partitions_def else {}
    plan = create_execution_plan(job, run_config={}, tags=partition)
    check_steps = {s.key: s for s in plan.steps if "_gx_suites" in s.key}
    assert set(check_steps) == {"raw_gx_suites", "marts_gx_suites", "nonblocking_gx_suites"}
    last = check_steps["nonblocking_gx_suites"]
    assert {o.name for o in last.step_outputs} == {
        "marts__kpi_monthly_gx_suite",
        "marts__customer_margin_monthly_gx_suite",
        "ml__churn_predictions_gx_suite",
    }
    assert "ml__churn_predictions" in {key for i in last.step_inputs for key in i.dependency_keys}
