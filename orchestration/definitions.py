"""The code location: one Definitions object built from Settings.

`dagster dev -w workspace.yaml` loads `defs`; tests call `build_definitions(settings)` for any warehouse.
Loading reads the prepared dbt manifest and never runs dbt (`python -m orchestration.prepare_manifest`).
"""

from __future__ import annotations

import json
from typing import Any

import dagster as dg

from orchestration.assets.dbt import build_dbt_assets
from orchestration.assets.ml import build_ml_assets
from orchestration.assets.raw import build_raw_assets
from orchestration.assets.reports import build_report_assets, build_report_jobs
from orchestration.checks import apply_freshness_policies, asset_keys_of, build_freshness_policies, build_quality_checks
from orchestration.dbt_args import DAILY_PARTITIONED_TAG, manifest_path, nodes_with_tag
from orchestration.jobs import build_all_assets_job, build_daily_refresh_job, build_train_models_job, warehouse_executor
from orchestration.resources.dbt import dbt_resource
from orchestration.resources.warehouse import WarehouseResource
from orchestration.schedules import build_daily_refresh_schedule, build_report_schedules, build_train_models_schedule
from orchestration.sensors import build_run_failure_sensor
from orchestration.sensors_file_drops import build_file_drop_sensor
from orchestration.settings import Settings, get_settings


class ManifestMissingError(FileNotFoundError):
    pass


def load_manifest(settings: Settings) -> dict[str, Any]:
    """The prepared dbt manifest; loading the code location must not parse the dbt project."""
    path = manifest_path(settings.dbt_project_dir)
    if not path.exists():
        raise ManifestMissingError(
            f"dbt manifest {path} is missing: prepare it with `make manifest` "
            "(python -m orchestration.prepare_manifest) before loading the code location"
        )
    return json.loads(path.read_text())


# Extension points: later work appends its builders here (each takes Settings and returns a list).
def python_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    """ML and report assets (orchestration/assets/ml.py, reports.py)."""
    return [*build_ml_assets(settings), *build_report_assets(settings)]


def asset_checks(settings: Settings, asset_keys: set[dg.AssetKey]) -> list[dg.AssetChecksDefinition]:
    """Checks beyond dbt tests: GX suites of the assets present (orchestration/checks/)."""
    return build_quality_checks(settings, asset_keys)


def sensors(settings: Settings) -> list[dg.SensorDefinition]:
    """The run-failure notification (orchestration/sensors.py) and the file-drop sensor (files-mode sources)."""
    return [build_run_failure_sensor(settings), build_file_drop_sensor(settings)]


def build_definitions(settings: Settings, manifest: dict[str, Any] | None = None) -> dg.Definitions:
    """The code location for `settings`; `manifest` defaults to the prepared one (tests may pass their own)."""
    manifest = load_manifest(settings) if manifest is None else manifest
    partitioned = bool(nodes_with_tag(manifest, DAILY_PARTITIONED_TAG))
    daily_refresh_job = build_daily_refresh_job()
    report_jobs = build_report_jobs()
    train_models_job = build_train_models_job()
    assets = [*build_raw_assets(settings), *build_dbt_assets(settings, manifest), *python_assets(settings)]
    assets = apply_freshness_policies(assets, build_freshness_policies(manifest))  # dbt source freshness (checks/)
    return dg.Definitions(
        assets=assets,
        asset_checks=asset_checks(settings, asset_keys_of(assets)),
        jobs=[build_all_assets_job(), daily_refresh_job, train_models_job, *report_jobs],
        schedules=[
            build_daily_refresh_schedule(daily_refresh_job, partitioned=partitioned),
            build_train_models_schedule(train_models_job),
            *build_report_schedules(*report_jobs),
        ],
        sensors=sensors(settings),
        resources={
            "warehouse": WarehouseResource.from_settings(settings),
            "dbt": dbt_resource(settings),
        },
        executor=warehouse_executor(settings),
    )


defs = build_definitions(get_settings())
