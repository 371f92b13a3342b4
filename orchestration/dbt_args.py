"""Pure functions that turn settings and partition windows into dbt CLI arguments (unit-tested, no I/O)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

DAILY_PARTITIONED_TAG = "daily_partitioned"
MANIFEST_RELATIVE_PATH = Path("target") / "manifest.json"


def manifest_path(project_dir: Path) -> Path:
    """Where the prepared manifest lives (written by `python -m orchestration.prepare_manifest`)."""
    return project_dir / MANIFEST_RELATIVE_PATH


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def partition_vars(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    """dbt vars for a partition window [start, end): naive UTC ISO timestamps (the warehouse stores UTC).

    Aware datetimes (Dagster's time windows) are converted to UTC first.
    """
    start, end = _naive_utc(start), _naive_utc(end)
    if end <= start:
        raise ValueError(f"partition window end {end.isoformat()} must be after start {start.isoformat()}")
    return {"partition_start": start.isoformat(sep=" "), "partition_end": end.isoformat(sep=" ")}


def vars_arg(dbt_vars: Mapping[str, object]) -> str:
    """`--vars` value: JSON (valid YAML) with sorted keys, so equal settings give identical commands."""
    return json.dumps(dict(dbt_vars), sort_keys=True, default=str)


def build_args(
    dbt_vars: Mapping[str, object],
    *,
    partition_window: tuple[dt.datetime, dt.datetime] | None = None,
    full_refresh: bool = False,
) -> list[str]:
    """`dbt build` arguments for one Dagster run.

    The selection is added by dagster-dbt from the execution context and the target by DbtCliResource
    (target=settings.dbt_target), so neither appears here.
    """
    merged = dict(dbt_vars)
    if partition_window is not None:
        merged.update(partition_vars(*partition_window))
    args = ["build", "--vars", vars_arg(merged)]
    if full_refresh:
        args.append("--full-refresh")
    return args


def parse_args() -> list[str]:
    """`dbt parse` arguments for preparing the manifest.

    The target comes from DbtCliResource; vars stay at their dbt_project.yml defaults, so the manifest does
    not depend on the day it was prepared (run-time vars only change SQL, not the graph).
    """
    return ["parse"]


def nodes_with_tag(manifest: Mapping[str, object], tag: str, resource_types: Sequence[str] = ("model",)) -> list[str]:
    """Unique ids of manifest nodes of the given types carrying `tag` (sorted)."""
    nodes = manifest.get("nodes", {})
    assert isinstance(nodes, Mapping)
    return sorted(
        unique_id
        for unique_id, node in nodes.items()
        if node.get("resource_type") in resource_types and tag in (node.get("tags") or ())
    )
