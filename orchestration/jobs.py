"""Jobs of the code location and the executor that serialises DuckDB writes."""

from __future__ import annotations

import dagster as dg

from orchestration.settings import Settings

ALL_ASSETS_JOB = "all_assets_job"
DAILY_REFRESH_JOB = "daily_refresh_job"
# What the daily refresh rebuilds: (demo sources ->) extract -> dbt build (+ checks) -> scoring. Training
# and the weekly/monthly reports get their own jobs and schedules.
DAILY_REFRESH_GROUPS = ("sources", "raw", "staging", "intermediate", "marts", "ml")


def warehouse_executor(settings: Settings) -> dg.ExecutorDefinition:
    """Multiprocess executor; on DuckDB one step at a time, because a DuckDB file has a single writer.

    (The `warehouse_writes` pool also serialises warehouse writers across runs once the instance sets
    its limit — see dagster.yaml.example.)
    """
    if settings.warehouse == "duckdb":
        return dg.multiprocess_executor.configured({"max_concurrent": 1}, name="warehouse_serial_executor")
    return dg.multiprocess_executor


def build_all_assets_job(partitions_def: dg.PartitionsDefinition | None) -> dg.UnresolvedAssetJobDefinition:
    """Materialize everything (the README's main job). With daily-partitioned assets, launch it for a
    partition or a partition range (a range backfills in a single run)."""
    return dg.define_asset_job(
        ALL_ASSETS_JOB,
        selection=dg.AssetSelection.all(),
        partitions_def=partitions_def,
        description="Materialize every asset: raw extracts, dbt models and tests, and everything downstream.",
    )


def build_daily_refresh_job(partitions_def: dg.PartitionsDefinition | None) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        DAILY_REFRESH_JOB,
        selection=dg.AssetSelection.groups(*DAILY_REFRESH_GROUPS),
        partitions_def=partitions_def,
        description="Daily refresh: extract -> dbt build (tests as checks) -> scoring.",
    )
