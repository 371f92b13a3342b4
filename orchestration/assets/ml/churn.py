"""Churn assets: weekly training (ml.churn_model_runs + a persisted, versioned model) and daily scoring
(ml.churn_predictions) of the latest closed snapshot of marts.customer_features_monthly.

ml.churn_predictions keeps one set of rows per snapshot month, so a report of any past period finds the snapshot
it shows. The daily run replaces the rows of the latest snapshot only; a snapshot the table lacks (a first run on
an existing history) is scored once, retrospectively, and flagged so. Once the next month closes, a snapshot's
rows are never rewritten: re-rendering a past period reproduces it.
"""

# No `from __future__ import annotations`: Dagster reads the asset functions' `context` annotation at definition time.
import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from orchestration.assets.ml import truth
from orchestration.assets.ml.common import (
    ML_GROUP,
    ML_SCHEMA,
    POOL,
    WEEKLY_TRAINING_TAGS,
    append_run_log,
    markdown_table,
    mart_key,
    ml_key,
    numeric_metadata,
    placeholders,
    stamped,
    utc_now,
)
from orchestration.lazy import lazy_module
from orchestration.resources.warehouse import WarehouseResource, WarehouseSession
from orchestration.settings import Settings

# Deferred: only executing the assets needs them (orchestration/lazy.py), hence the quoted annotations.
pd = lazy_module("pandas")
churn = lazy_module("models_ml.churn")

FEATURES_KEY = mart_key("customer_features_monthly")
LABEL = "churned_next_month"
SNAPSHOT = "snapshot_month"
CUSTOMER = "customer_id"
NOT_FEATURES = (CUSTOMER, "snapshot_date")
WEIGHT = "mrr_weight"  # a copy of mrr: the weight of MRR-weighted capture (mrr itself stays a feature)
LATEST_POINTER = "LATEST"
MODEL_RUNS_TABLE = "churn_model_runs"
PREDICTIONS_TABLE = "churn_predictions"
# True on rows scored after their snapshot had been superseded by a newer closed month: by a model trained on
# later data (that saw the snapshot's outcome), not what the model said at the time.
RETROSPECTIVE = "scored_retrospectively"
# Native (OpenMP) threads of the fit: one is fastest when the box is shared with dbt and other steps, and the
# monthly snapshot table is small (see bench/bench_ml.py for 20,000 customers x 24 snapshots).
FIT_THREADS = 1
HEADLINE_METRICS = ("roc_auc", "pr_auc", "brier", "brier_baseline", "brier_skill", "lift", "capture")


def model_root(settings: Settings) -> Path:
    """settings.models_dir/churn/<version>/ holds each fitted model (model.joblib, model_card.md, metrics.json)."""
    return settings.models_dir / churn.MODEL_NAME


def load_features(warehouse: WarehouseResource, snapshots: Sequence[dt.date] | None = None) -> "pd.DataFrame":
    """marts.customer_features_monthly, all snapshots or the given ones, ordered by snapshot and customer."""
    where = f" WHERE snapshot_month IN ({placeholders(snapshots)})" if snapshots else ""
    frame = warehouse.query_df(f"SELECT * FROM marts.customer_features_monthly{where} ORDER BY 2, 1", snapshots)
    if frame.empty:
        raise ValueError("marts.customer_features_monthly is empty: build the marts before the churn model")
    frame[CUSTOMER] = frame[CUSTOMER].astype(str)
    frame[SNAPSHOT] = pd.to_datetime(frame[SNAPSHOT])
    return frame


@dataclass(frozen=True)
class TrainedChurnModel:
    model: "churn.ChurnModel"
    path: Path
    run_record: dict


def train(settings: Settings, warehouse: WarehouseResource, run_id: str) -> TrainedChurnModel:
    """Fit on the labelled snapshots (temporal split inside models_ml.churn), persist, log to ml.churn_model_runs."""
    frame = load_features(warehouse)
    labelled = frame[frame[LABEL].notna()].assign(**{WEIGHT: frame["mrr"]})
    oracle = truth.churn_hazard(settings)
    oracle_column = None
    if oracle is not None:
        labelled = labelled.merge(oracle, on=[CUSTOMER, SNAPSHOT], how="left")
        # the oracle AUC needs the true hazard of every holdout row; it is reported only when the truth covers all
        oracle_column = "oracle_hazard" if labelled["oracle_hazard"].notna().all() else None
        if oracle_column is None:
            labelled = labelled.drop(columns="oracle_hazard")
    model = churn.fit(
        labelled,
        LABEL,
        SNAPSHOT,
        exclude=NOT_FEATURES,
        weight_column=WEIGHT,
        oracle_column=oracle_column,
        n_threads=FIT_THREADS,
    )
    if "oracle_hazard" in model.features.columns:  # guard: the truth must never be a feature
        raise RuntimeError("the simulator's true hazard leaked into the churn model's features")
    directory = model.save(model_root(settings))
    _point_latest(model_root(settings), model.version)
    holdout = model.evaluation["holdout"]
    record = {
        **model.run_record(),
        **{f"holdout_{name}": holdout.get(name) for name in HEADLINE_METRICS},
        "holdout_oracle_auc": holdout.get("oracle_auc"),
        "holdout_auc_to_oracle": holdout.get("auc_to_oracle"),
        "training_rows": len(labelled),
        "model_path": str(directory),
    }
    rows = stamped(pd.DataFrame([record]), run_id, utc_now())
    append_run_log(warehouse, MODEL_RUNS_TABLE, rows, key="model_version")
    return TrainedChurnModel(model, directory, record)


def _point_latest(root: Path, version: str) -> None:
    tmp = root / f".{LATEST_POINTER}.tmp"
    tmp.write_text(version + "\n")
    os.replace(tmp, root / LATEST_POINTER)


def latest_model(settings: Settings) -> "churn.ChurnModel | None":
    """The most recently trained persisted model (None when none was trained yet)."""
    pointer = model_root(settings) / LATEST_POINTER
    if not pointer.exists():
        return None
    return churn.ChurnModel.load(model_root(settings) / pointer.read_text().strip())


def _snapshot_months(session: WarehouseSession, relation: str) -> list[dt.date]:
    rows = session.query(f"SELECT DISTINCT snapshot_month FROM {relation} ORDER BY 1")
    return [pd.Timestamp(row[0]).date() for row in rows]


def snapshots_to_score(warehouse: WarehouseResource) -> tuple[list[dt.date], dt.date]:
    """(the snapshots to score, the latest closed one): the latest, re-scored by every run while it is the latest,
    and every earlier snapshot ml.churn_predictions lacks."""
    with warehouse.connect() as session:
        available = _snapshot_months(session, "marts.customer_features_monthly")
        scored = set()
        if session.table_exists(ML_SCHEMA, PREDICTIONS_TABLE):
            scored = set(_snapshot_months(session, f"{ML_SCHEMA}.{PREDICTIONS_TABLE}"))
    if not available:
        raise ValueError("marts.customer_features_monthly is empty: build the marts before the churn model")
    latest = available[-1]
    return [s for s in available if s == latest or s not in scored], latest


def score(model: "churn.ChurnModel", warehouse: WarehouseResource, run_id: str) -> "pd.DataFrame":
    """ml.churn_predictions rows for every customer of the latest closed snapshot and of each earlier snapshot
    never scored (flagged `scored_retrospectively`)."""
    snapshots, latest = snapshots_to_score(warehouse)
    frame = load_features(warehouse, snapshots)
    scored = model.score(frame, customer_column=CUSTOMER, time_column=SNAPSHOT, mrr_column="mrr")
    # tier and tenure as of each snapshot; the last active day as of this run (report queries cap it at the period)
    activity = warehouse.query_df(
        "SELECT customer_id, max(last_active_date) AS last_active_day FROM marts.dim_users "
        "WHERE customer_id IS NOT NULL GROUP BY customer_id"
    )
    context = frame[[CUSTOMER, SNAPSHOT, "tier", "tenure_months"]].merge(
        activity.astype({CUSTOMER: str}), on=CUSTOMER, how="left"
    )
    scored[SNAPSHOT] = pd.to_datetime(scored[SNAPSHOT])
    scored = scored.merge(
        context.rename(columns={CUSTOMER: "customer_external_id"}), on=["customer_external_id", SNAPSHOT]
    )
    scored[SNAPSHOT] = scored[SNAPSHOT].dt.date
    scored["last_active_day"] = pd.to_datetime(scored["last_active_day"]).dt.date
    scored[RETROSPECTIVE] = scored[SNAPSHOT] != latest
    return stamped(scored, run_id, utc_now()).rename(columns={"created_at": "scored_at"})


def save_snapshots(warehouse: WarehouseResource, predictions: "pd.DataFrame") -> None:
    """Replace the rows of the snapshots in `predictions` and keep every other snapshot's."""
    append_run_log(warehouse, PREDICTIONS_TABLE, predictions, key=SNAPSHOT)


def _training_metadata(trained: TrainedChurnModel) -> dict[str, object]:
    model = trained.model
    evaluation = model.evaluation
    metadata: dict[str, object] = {
        "model_version": model.version,
        "chosen_model": model.chosen,
        "model_path": dg.MetadataValue.path(str(trained.path)),
        "data_window": dg.MetadataValue.json(model.data_window),
        "split": dg.MetadataValue.json(evaluation["split"]),
        "candidates": dg.MetadataValue.json(evaluation["candidates"]),
        "top_importances": markdown_table(model.importances.head(10)),
        "model_card": dg.MetadataValue.md(model.model_card()),
    }
    metadata.update(numeric_metadata(evaluation["holdout"], "holdout."))
    metadata.update(numeric_metadata(evaluation["risk_thresholds"], "risk_threshold."))
    return metadata


def build_churn_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=ml_key("churn_model"),
        group_name=ML_GROUP,
        deps=[FEATURES_KEY],
        pool=POOL,
        kinds={"python", "scikitlearn", settings.warehouse},
        tags=WEEKLY_TRAINING_TAGS,
        description=(
            "Weekly churn-model training on marts.customer_features_monthly (temporal split: train / validation / "
            "holdout snapshots; logistic regression vs gradient boosting; calibrated). Persists the model under "
            "models_dir/churn/<version>/ with a model card and appends the run to ml.churn_model_runs."
        ),
    )
    def churn_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        trained = train(settings, warehouse, context.run_id)
        context.log.info(f"churn model {trained.model.version} saved to {trained.path}")
        return dg.MaterializeResult(metadata=_training_metadata(trained))

    @dg.asset(
        key=ml_key(PREDICTIONS_TABLE),
        group_name=ML_GROUP,
        deps=[FEATURES_KEY, mart_key("dim_users"), ml_key("churn_model")],
        pool=POOL,
        kinds={"python", settings.warehouse},
        description=(
            "Daily churn scoring of the latest closed snapshot with the latest persisted model (trained first if "
            "there is none): probability, risk band (thresholds from the validation snapshots), MRR at risk, top "
            "drivers, model version, run. Keeps every earlier snapshot's rows (scoring once, retrospectively, "
            "the snapshots it lacks), so reports of past periods can be rendered."
        ),
    )
    def churn_predictions(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        model = latest_model(settings)
        if model is None:
            context.log.info("no persisted churn model yet: training one first")
            model = train(settings, warehouse, context.run_id).model
        predictions = score(model, warehouse, context.run_id)
        save_snapshots(warehouse, predictions)
        retrospective = sorted(set(predictions.loc[predictions[RETROSPECTIVE], SNAPSHOT]))
        if retrospective:
            context.log.info(
                f"scored {len(retrospective)} earlier snapshot(s) the table lacked, retrospectively: "
                f"{retrospective[0]} to {retrospective[-1]}"
            )
        latest = predictions.loc[~predictions[RETROSPECTIVE]]
        bands = latest.groupby("risk_band")["mrr_at_risk"].agg(["size", "sum"]).reset_index()
        return dg.MaterializeResult(
            metadata={
                "rows": len(latest),
                "snapshot_month": str(latest[SNAPSHOT].max()) if len(latest) else "",
                "retrospective_snapshots": len(retrospective),
                "model_version": model.version,
                "mean_probability": float(latest["churn_probability"].mean()) if len(latest) else 0.0,
                "mrr_at_risk_total": float(latest["mrr_at_risk"].sum()),
                "by_risk_band": markdown_table(bands.rename(columns={"size": "customers", "sum": "mrr_at_risk"})),
                **numeric_metadata(model.evaluation["holdout"], "model_holdout."),
            }
        )

    return [churn_model, churn_predictions]
