"""Jobs of the code location and the executor that serialises DuckDB writes."""

from __future__ import annotations

import dagster as dg

from orchestration.settings import Settings

ALL_ASSETS_JOB_NAME = "all_assets_job"
DAILY_REFRESH_JOB_NAME = "daily_refresh_job"
# What the daily refresh rebuilds: (demo sources ->) extract -> dbt build (+ checks) -> scoring. Training
# and the weekly/monthly reports get their own jobs and schedules.
DAILY_REFRESH_GROUPS = ("sources", "raw", "staging", "intermediate", "marts", "ml")
TRAIN_MODELS_JOB_NAME = "train_models_job"
# Model training assets carry this tag (orchestration/assets/ml): the weekly training job runs them, the daily
# refresh only scores with the latest trained model.
WEEKLY_TRAINING_TAG = ("cadence", "weekly_training")


def warehouse_executor(settings: Settings) -> dg.ExecutorDefinition:
    """On DuckDB every step of a run in one process (the in-process executor); on PostgreSQL a process per step.

    A DuckDB file has a single writer, so its steps could not run side by side anyway; one process then saves
    each step's process start and code-location load (~4.5 s of each of a daily run's ~26 steps), and dbt, which
    runs in that process (orchestration/resources/dbt.py), re-parses nothing between the run's dbt steps. (The
    `warehouse_writes` pool also serialises warehouse writers across runs once the instance sets its limit —
    see dagster.yaml.example.)
    """
    if settings.warehouse == "duckdb":
        return dg.in_process_executor
    return dg.multiprocess_executor


def build_all_assets_job() -> dg.UnresolvedAssetJobDefinition:
    """Materialize everything (the README's main job).

    Once daily-partitioned models exist the job is partitioned: launch it for a day, or for a range of days
    (one run, see `full_history_run_tags`).
    """
    return dg.define_asset_job(
        ALL_ASSETS_JOB_NAME,
        # Reports are monthly/weekly partitioned (their own jobs); one job cannot mix them with daily partitions.
        selection=dg.AssetSelection.all() - dg.AssetSelection.groups("reports"),
        description="Materialize every asset but the reports: raw extracts, dbt models and tests, ML.",
    )


def full_history_run_tags(settings: Settings, job: dg.JobDefinition) -> dict[str, str]:
    """Run tags covering every day from the first partition to the data as-of date in a single run
    (empty for an unpartitioned job). E.g. `job.execute_in_process(tags=full_history_run_tags(settings, job))`."""
    partitions_def = job.partitions_def
    if partitions_def is None:
        return {}
    keys = partitions_def.get_partition_keys()
    if not keys:
        raise ValueError(f"job {job.name} has no partitions yet (first day after today?)")
    last = min(keys[-1], settings.data_as_of().isoformat())
    return {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": last}


def build_daily_refresh_job() -> dg.UnresolvedAssetJobDefinition:
    """Partitioned like the daily usage models (inferred from the assets): the schedule runs one day."""
    return dg.define_asset_job(
        DAILY_REFRESH_JOB_NAME,
        selection=dg.AssetSelection.groups(*DAILY_REFRESH_GROUPS) - dg.AssetSelection.tag(*WEEKLY_TRAINING_TAG),
        description="Daily refresh: extract -> dbt build (tests as checks) -> scoring.",
    )


def build_train_models_job() -> dg.UnresolvedAssetJobDefinition:
    """Weekly model training (e.g. the churn model); the daily refresh then scores with the newest model."""
    return dg.define_asset_job(
        TRAIN_MODELS_JOB_NAME,
        selection=dg.AssetSelection.tag(*WEEKLY_TRAINING_TAG),
        description="Weekly training of the ML models on the marts (persists versioned models, logs the runs).",
    )
