"""Build a warehouse from the simulated company: simulate -> extract into raw -> `dbt build`.

Shared by integration tests (through the `built_warehouse` fixture) and bench scripts. The ground truth is
written beside it (Settings.truth_dir/<name>.parquet) for the tests that compare against it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pyarrow as pa

from orchestration.extract import load_batches
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import Settings
from orchestration.sources.demo import write_truth
from orchestration.sources.schemas import TABLES_BY_KEY
from orchestration.sources.simulator import Simulator, SimulatorConfig

DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
SOURCE_LABEL = "simulator"


def simulator_for(settings: Settings) -> Simulator:
    return Simulator(SimulatorConfig.from_settings(settings.simulator, settings))


def load_into_raw(settings: Settings, tables: dict[str, pa.Table]) -> None:
    """Merge source-shaped tables into raw with the project's loader (tables the contract does not know are skipped)."""
    warehouse = WarehouseResource.from_settings(settings)
    for key, data in tables.items():
        spec = TABLES_BY_KEY.get(key)
        if spec is not None:
            load_batches(warehouse, spec, data, source_label=SOURCE_LABEL)


def extract_simulated(settings: Settings, simulator: Simulator, as_of: dt.date, since: dt.date | None = None) -> None:
    """Full extract at `as_of`, or the changes in (since, as_of] (snapshot entities always as full snapshots)."""
    if since is None:
        load_into_raw(settings, simulator.source_tables(as_of))
        return
    changes = simulator.changes(since, as_of)
    full = simulator.source_tables(as_of)
    for key, spec in TABLES_BY_KEY.items():
        if spec.mode == "snapshot" and key in full:
            changes[key] = full[key]
    load_into_raw(settings, changes)


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    *,
    target_path: Path | None = None,
    extra_vars: Mapping[str, object] | None = None,
) -> subprocess.CompletedProcess:
    """Run the dbt CLI on the settings' target and vars (plus `extra_vars`, e.g. a partition window); its own
    target dir keeps parallel runs apart."""
    target_path = target_path or settings.data_dir / "dbt_target"
    command = [
        DBT_EXECUTABLE,
        *args,
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_project_dir),
        "--target",
        settings.dbt_target,
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path / "logs"),
        "--vars",
        json.dumps({**settings.dbt_vars(), **(extra_vars or {})}, sort_keys=True, default=str),
    ]
    env = {**os.environ, **settings.dbt_env()}
    return subprocess.run(command, env=env, cwd=settings.dbt_project_dir, capture_output=True, text=True, check=False)


def dbt_node_statuses(settings: Settings, target_path: Path | None = None) -> dict[str, str]:
    """unique_id -> status of the last dbt run (run_results.json)."""
    target_path = target_path or settings.data_dir / "dbt_target"
    results = json.loads((target_path / "run_results.json").read_text())
    return {r["unique_id"]: r["status"] for r in results["results"]}


def build_simulated_warehouse(
    settings: Settings, as_of: dt.date | None = None
) -> tuple[Settings, subprocess.CompletedProcess]:
    """Simulate to `as_of` (default: the simulator settings' as-of), extract, write truth, `dbt build` everything."""
    as_of = as_of or settings.simulator.resolved_as_of()
    settings = replace(settings, as_of_date=as_of)
    simulator = simulator_for(settings)
    extract_simulated(settings, simulator, as_of)
    write_truth(simulator.config, settings.truth_dir, as_of, simulator)
    return settings, run_dbt(settings, ["build"])
