"""ML assets (group `ml`) materialized in-process on the simulated small company, on each engine: every ml.* table
exists with rows stamped by the run, outputs are well-formed, the churn model is persisted and reused, and the
training/scoring split between the weekly and daily jobs holds."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from orchestration.assets.ml import build_ml_assets
from orchestration.assets.ml.churn import LATEST_POINTER, model_root, save_snapshots
from orchestration.checks.gx import gx_context, load_guarded_tables, validate_table
from orchestration.definitions import build_definitions
from orchestration.jobs import DAILY_REFRESH_JOB_NAME, TRAIN_MODELS_JOB_NAME
from orchestration.resources.warehouse import WarehouseResource
from orchestration.schedules import TRAIN_MODELS_SCHEDULE
from orchestration.settings import Settings

ML_TABLES = (
    "churn_model_runs",
    "churn_predictions",
    "mrr_forecast",
    "forecast_backtests",
    "ltv_projection",
    "metric_alerts",
    "cost_recommendations",
)


@pytest.fixture(scope="module")
def ml_run(built_warehouse: Settings) -> tuple[Settings, WarehouseResource, dg.ExecuteInProcessResult]:
    """All ml assets materialized once (they write only the `ml` schema and models_dir of the built warehouse)."""
    warehouse = WarehouseResource.from_settings(built_warehouse)
    result = dg.materialize(build_ml_assets(built_warehouse), resources={"warehouse": warehouse})
    assert result.success
    return built_warehouse, warehouse, result


def _table(warehouse: WarehouseResource, name: str) -> pd.DataFrame:
    return warehouse.query_df(f"SELECT * FROM ml.{name}")


def _metadata(result: dg.ExecuteInProcessResult, name: str) -> dict:
    [event] = [
        e for e in result.get_asset_materialization_events() if e.materialization.asset_key == dg.AssetKey(["ml", name])
    ]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def test_every_ml_table_is_written_and_stamped_with_the_run(ml_run) -> None:
    _, warehouse, result = ml_run
    for name in ML_TABLES:
        table = _table(warehouse, name)
        assert len(table) > 0, name
        assert set(table["run_id"]) == {result.run_id}, name
        created = table["scored_at" if name == "churn_predictions" else "created_at"]
        assert created.notna().all(), name
        assert table["model_version"].notna().all(), name


def _customer_snapshots(frame: pd.DataFrame, customer: str) -> list[tuple[str, dt.date]]:
    return sorted(zip(frame[customer], pd.to_datetime(frame["snapshot_month"]).dt.date, strict=True))


def test_churn_predictions_score_every_snapshot_with_the_persisted_model(ml_run) -> None:
    """The first run scores the latest closed snapshot and, retrospectively, every earlier one."""
    settings, warehouse, result = ml_run
    predictions = _table(warehouse, "churn_predictions")
    features = warehouse.query_df("SELECT customer_id, snapshot_month FROM marts.customer_features_monthly")
    assert _customer_snapshots(predictions, "customer_external_id") == _customer_snapshots(features, "customer_id")
    latest_snapshot = pd.to_datetime(features["snapshot_month"]).max()
    is_latest = pd.to_datetime(predictions["snapshot_month"]) == latest_snapshot
    assert (predictions["scored_retrospectively"] == ~is_latest).all()
    assert _metadata(result, "churn_predictions")["retrospective_snapshots"] == features["snapshot_month"].nunique() - 1
    p = predictions["churn_probability"]
    assert ((p >= 0) & (p <= 1)).all()
    assert set(predictions["risk_band"]) <= {"high", "medium", "low"}
    np.testing.assert_allclose(predictions["mrr_at_risk"], p * predictions["mrr"], rtol=1e-9)
    version = (model_root(settings) / LATEST_POINTER).read_text().strip()
    assert set(predictions["model_version"]) == {version}
    directory = model_root(settings) / version
    assert (directory / "model.joblib").exists() and "# Churn model" in (directory / "model_card.md").read_text()

    runs = _table(warehouse, "churn_model_runs")
    run = runs[runs["model_version"] == version].iloc[0]
    metrics = json.loads(run["metrics"])
    assert 0 <= metrics["holdout"]["roc_auc"] <= 1 and run["model_path"] == str(directory)
    assert run["data_window_end"] < str(latest_snapshot.date())  # trained on labelled months only
    training = _metadata(result, "churn_model")
    assert 0 <= training["holdout.roc_auc"] <= 1 and training["holdout.brier"] >= 0
    # demo truth exists beside the built warehouse: the oracle AUC and the ratio are reported
    assert 0 < training["holdout.oracle_auc"] <= 1
    assert training["holdout.auc_to_oracle"] == pytest.approx(
        training["holdout.roc_auc"] / training["holdout.oracle_auc"]
    )


def _by_customer_snapshot(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["snapshot_month", "customer_external_id"]).reset_index(drop=True)


def test_daily_scoring_reuses_the_latest_model_and_rescores_only_the_latest_snapshot(ml_run) -> None:
    settings, warehouse, first = ml_run
    runs_before = len(_table(warehouse, "churn_model_runs"))
    before = _table(warehouse, "churn_predictions")
    assets = [a for a in build_ml_assets(settings) if dg.AssetKey(["ml", "churn_predictions"]) in a.keys]
    again = dg.materialize(assets, resources={"warehouse": warehouse})
    assert again.success
    assert len(_table(warehouse, "churn_model_runs")) == runs_before
    after = _table(warehouse, "churn_predictions")
    latest = after["snapshot_month"].max()
    assert set(after.loc[after["snapshot_month"] == latest, "run_id"]) == {again.run_id}
    assert set(after["model_version"]) == {(model_root(settings) / LATEST_POINTER).read_text().strip()}
    # earlier snapshots are kept as they were: same rows, same run, same scores
    past_before = _by_customer_snapshot(before[before["snapshot_month"] < latest])
    past_after = _by_customer_snapshot(after[after["snapshot_month"] < latest])
    assert len(past_after) > 0 and set(past_after["run_id"]) == {first.run_id}
    pd.testing.assert_frame_equal(past_after, past_before[past_after.columns])
    assert _metadata(again, "churn_predictions")["retrospective_snapshots"] == 0


def test_the_churn_predictions_suite_passes_on_the_whole_history(ml_run) -> None:
    """The GX suite (unique customer x snapshot, probabilities in [0, 1], bands) holds over every snapshot."""
    _, warehouse, _ = ml_run
    [suite] = [t for t in load_guarded_tables() if t.suite_name == "ml.churn_predictions"]
    outcome = validate_table(suite, warehouse, context=gx_context())
    assert outcome.passed, outcome.metadata()
    assert outcome.rows_validated == len(_table(warehouse, "churn_predictions"))


def test_saving_scores_replaces_only_their_snapshots_and_adopts_an_older_table(make_settings) -> None:
    """A table written before the history was kept (no flag column) is kept and widened once; later saves
    delete and insert one snapshot's rows by column name."""
    warehouse = WarehouseResource.from_settings(make_settings("churn_history"))
    september, october = dt.date(2026, 9, 1), dt.date(2026, 10, 1)
    old = pd.DataFrame(
        {"customer_external_id": ["c1", "c2"], "snapshot_month": [september] * 2, "churn_probability": [0.1, 0.2]}
    )
    warehouse.write_table("ml", "churn_predictions", old)
    scored = pd.DataFrame(
        {
            "customer_external_id": ["c1", "c3"],
            "snapshot_month": [october] * 2,
            "churn_probability": [0.3, 0.4],
            "scored_retrospectively": [False, False],
        }
    )
    save_snapshots(warehouse, scored)
    rescored = scored.assign(churn_probability=[0.5, 0.6])[list(reversed(scored.columns))]
    save_snapshots(warehouse, rescored)
    table = warehouse.query_df(
        "SELECT customer_external_id, snapshot_month, churn_probability, scored_retrospectively "
        "FROM ml.churn_predictions ORDER BY snapshot_month, customer_external_id"
    )
    assert list(table["customer_external_id"]) == ["c1", "c2", "c1", "c3"]
    assert list(table["churn_probability"]) == [0.1, 0.2, 0.5, 0.6]
    assert table["scored_retrospectively"].isna().tolist() == [True, True, False, False]


def test_forecasts_have_ordered_intervals_for_twelve_months_per_series(ml_run) -> None:
    _, warehouse, result = ml_run
    forecasts = _table(warehouse, "mrr_forecast")
    assert set(forecasts["series"]) == {"mrr", "paying_customers", "usage_cost"}
    for _, rows in forecasts.groupby("series"):
        assert sorted(rows["horizon"]) == list(range(1, 13))
        months = pd.to_datetime(rows.sort_values("horizon")["month"])
        first = pd.Timestamp(rows["last_actual_month"].iloc[0]) + pd.offsets.MonthBegin(1)
        assert list(months) == list(pd.date_range(first, periods=12, freq="MS"))
    ordered = ["lo_95", "lo_80", "mean", "hi_80", "hi_95"]
    values = forecasts[ordered].to_numpy(dtype=float)
    assert (np.diff(values, axis=1) >= -1e-9).all()
    backtests = _table(warehouse, "forecast_backtests")
    chosen = backtests[backtests["chosen"].astype(bool)]
    assert set(chosen["series"]) == set(forecasts["series"])
    assert set(chosen.groupby("series")["model"].first()) <= set(forecasts["model"])
    metadata = _metadata(result, "mrr_forecast")
    assert 0 <= metadata["mrr.coverage_80"] <= 1 and metadata["mrr.mase_ratio"] > 0


def test_ltv_projection_per_tier(ml_run) -> None:
    _, warehouse, _ = ml_run
    projection = _table(warehouse, "ltv_projection")
    tiers = warehouse.query_df("SELECT DISTINCT tier FROM marts.fct_mrr WHERE is_paying AND is_closed_month")
    assert set(projection["tier"]) <= set(tiers["tier"]) and len(projection) > 0
    assert (projection["alpha"] > 0).all() and (projection["beta"] > 0).all() and (projection["derl_months"] > 0).all()
    np.testing.assert_allclose(
        projection["projected_ltv"], projection["arpa"] * projection["gross_margin_pct"] * projection["derl_months"]
    )


def test_metric_alerts_and_recommendations_are_well_formed(ml_run) -> None:
    _, warehouse, result = ml_run
    alerts = _table(warehouse, "metric_alerts")
    assert set(alerts["severity"]) <= {"warning", "critical"}
    assert all(s == "detector" or s.startswith("rule:") for s in alerts["source"])
    assert alerts["message"].str.len().gt(0).all()
    detector = alerts[alerts["source"] == "detector"]
    assert (detector["expected_low"] <= detector["expected_high"]).all()
    metadata = _metadata(result, "metric_alerts")
    assert 0 <= metadata["incidents.all_metrics.recall"] <= 1  # simulator incidents exist beside the warehouse

    recommendations = _table(warehouse, "cost_recommendations")
    assert (recommendations["estimated_monthly_saving_usd"] >= 0).all()
    assert all(isinstance(json.loads(e), dict) for e in recommendations["evidence"])


def test_training_runs_weekly_and_scoring_daily(built_warehouse: Settings, dbt_manifest_path: Path) -> None:
    defs = build_definitions(built_warehouse)
    train = defs.resolve_job_def(TRAIN_MODELS_JOB_NAME).asset_layer.selected_asset_keys
    daily = defs.resolve_job_def(DAILY_REFRESH_JOB_NAME).asset_layer.selected_asset_keys
    assert train == {dg.AssetKey(["ml", "churn_model"])}
    ml_keys = {key for assets in build_ml_assets(built_warehouse) for key in assets.keys}
    assert ml_keys - train <= daily and not train & daily
    schedule = defs.resolve_schedule_def(TRAIN_MODELS_SCHEDULE)
    assert schedule.cron_schedule == "0 3 * * 0" and schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
