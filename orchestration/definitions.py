"""The code location: one Definitions object built from Settings.

`dagster dev -w workspace.yaml` loads `defs`; tests call `build_definitions(settings)` for any warehouse.
Loading reads the prepared dbt manifest and never runs dbt (`python -m orchestration.prepare_manifest`).
"""

from __future__ import annotations

import json
from typing import Any

import dagster as dg

from orchestration.assets.dbt import build_dbt_assets, daily_partitions, dbt_resource
from orchestration.assets.raw import build_raw_assets
from orchestration.dbt_args import DAILY_PARTITIONED_TAG, manifest_path, nodes_with_tag
from orchestration.jobs import build_all_assets_job, build_daily_refresh_job, warehouse_executor
from orchestration.resources.warehouse import WarehouseResource
from orchestration.schedules import build_daily_refresh_schedule
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
    return []


def asset_checks(settings: Settings) -> list[dg.AssetChecksDefinition]:
    """Checks beyond dbt tests: GX suites, freshness (orchestration/checks/)."""
    return []


def sensors(settings: Settings) -> list[dg.SensorDefinition]:
    """Sensors, e.g. the run-failure notification (orchestration/sensors.py)."""
    return []


def build_definitions(settings: Settings, manifest: dict[str, Any] | None = None) -> dg.Definitions:
    """The code location for `settings`; `manifest` defaults to the prepared one (tests may pass their own)."""
    manifest = load_manifest(settings) if manifest is None else manifest
    partitions_def = daily_partitions(settings) if nodes_with_tag(manifest, DAILY_PARTITIONED_TAG) else None
    daily_refresh_job = build_daily_refresh_job(partitions_def)
    return dg.Definitions(
        assets=[*build_raw_assets(settings), *build_dbt_assets(settings, manifest), *python_assets(settings)],
        asset_checks=asset_checks(settings),
        jobs=[build_all_assets_job(partitions_def), daily_refresh_job],
        schedules=[build_daily_refresh_schedule(daily_refresh_job, partitions_def)],
        sensors=sensors(settings),
        resources={
            "warehouse": WarehouseResource.from_settings(settings),
            "dbt": dbt_resource(settings),
        },
        executor=warehouse_executor(settings),
    )


defs = build_definitions(get_settings())
