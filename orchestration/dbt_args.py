"""Pure functions that turn settings and partition windows into dbt CLI arguments and environment variables
(unit-tested, no I/O)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

DAILY_PARTITIONED_TAG = "daily_partitioned"
RUN_SETTING_ENV_PREFIX = "DBT_RUN_"
MANIFEST_RELATIVE_PATH = Path("target") / "manifest.json"


def manifest_path(project_dir: Path) -> Path:
    """Where the prepared manifest lives (written by `python -m orchestration.prepare_manifest`)."""
    return project_dir / MANIFEST_RELATIVE_PATH


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def partition_vars(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    """Run settings of a partition window [start, end): naive UTC ISO timestamps (the warehouse stores UTC).

    Aware datetimes (Dagster's time windows) are converted to UTC first. Passed as environment variables
    (`partition_env`) by Dagster; a hand-run CLI may pass the same dict as --vars.
    """
    start, end = _naive_utc(start), _naive_utc(end)
    if end <= start:
        raise ValueError(f"partition window end {end.isoformat()} must be after start {start.isoformat()}")
    return {"partition_start": start.isoformat(sep=" "), "partition_end": end.isoformat(sep=" ")}


def run_setting_env_name(name: str) -> str:
    """Environment variable of a per-run setting, read by the dbt macro run_setting(name)."""
    return f"{RUN_SETTING_ENV_PREFIX}{name.upper()}"


def run_settings_env(settings: Mapping[str, str]) -> dict[str, str]:
    """Per-run settings as environment variables for one dbt invocation.

    Why not --vars: dbt re-parses the whole project whenever --vars change, i.e. on every daily run, while
    environment variables read only at execution time keep its partial parsing (macros/run_settings.sql).
    """
    return {run_setting_env_name(name): value for name, value in settings.items()}


def as_of_date_env(as_of_date: dt.date) -> dict[str, str]:
    """Environment of the data's as-of date (dbt macro as_of_date())."""
    return run_settings_env({"as_of_date": as_of_date.isoformat()})


def partition_env(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    """Environment of a partition window [start, end) (dbt macro usage_partition_days())."""
    return run_settings_env(partition_vars(start, end))


def vars_arg(dbt_vars: Mapping[str, object]) -> str:
    """`--vars` value: JSON (valid YAML) with sorted keys, so equal settings give identical commands."""
    return json.dumps(dict(dbt_vars), sort_keys=True, default=str)


def build_args(dbt_vars: Mapping[str, object], *, full_refresh: bool = False) -> list[str]:
    """`dbt build` arguments for one Dagster run: the project-wide vars, the same on every run.

    The selection is added by dagster-dbt from the execution context and the target by DbtCliResource
    (target=settings.dbt_target), so neither appears here; per-run settings travel in the environment
    (`run_settings_env`).
    """
    args = ["build", "--vars", vars_arg(dbt_vars)]
    if full_refresh:
        args.append("--full-refresh")
    return args


def parse_args(dbt_vars: Mapping[str, object]) -> list[str]:
    """`dbt parse` arguments for preparing the manifest, with the same vars as every run.

    dbt keeps the parse (target/partial_parse.msgpack, which dagster-dbt copies into each run's target dir)
    only while the --vars and target are unchanged, so runs with these vars skip re-parsing the project. The
    manifest does not depend on the day it was prepared: per-run settings are not vars.
    """
    return ["parse", "--vars", vars_arg(dbt_vars)]


def nodes_with_tag(manifest: Mapping[str, object], tag: str, resource_types: Sequence[str] = ("model",)) -> list[str]:
    """Unique ids of manifest nodes of the given types carrying `tag` (sorted)."""
    nodes = manifest.get("nodes", {})
    assert isinstance(nodes, Mapping)
    return sorted(
        unique_id
        for unique_id, node in nodes.items()
        if node.get("resource_type") in resource_types and tag in (node.get("tags") or ())
    )
