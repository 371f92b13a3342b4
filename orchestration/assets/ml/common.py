"""Shared pieces of the ML assets: keys, run stamping, metadata flattening, appending to run-log tables."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

import dagster as dg

from orchestration.assets.raw import WAREHOUSE_POOL
from orchestration.jobs import WEEKLY_TRAINING_TAG
from orchestration.lazy import lazy_module
from orchestration.resources.warehouse import WarehouseResource

# Deferred: only executing the assets needs them (orchestration/lazy.py).
pd = lazy_module("pandas")
pa = lazy_module("pyarrow")

ML_GROUP = "ml"
ML_SCHEMA = "ml"
POOL = WAREHOUSE_POOL  # every warehouse writer shares it (one DuckDB writer at a time)
# Assets carrying this tag are (re)trained by the weekly training job and left out of the daily refresh.
WEEKLY_TRAINING_TAGS = dict([WEEKLY_TRAINING_TAG])


def ml_key(name: str) -> dg.AssetKey:
    return dg.AssetKey([ML_SCHEMA, name])


def mart_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", name])


def utc_now() -> dt.datetime:
    """Naive UTC timestamp (the warehouse stores timestamps without time zone)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def stamped(frame: pd.DataFrame, run_id: str, created_at: dt.datetime) -> pd.DataFrame:
    """The rows with the run that produced them (`run_id`, `created_at`)."""
    return frame.assign(run_id=run_id, created_at=pd.Timestamp(created_at))


def as_arrow(frame: pd.DataFrame) -> pa.Table:
    """Arrow table for write_table; all-null columns become text (neither engine can create a column of type null)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for i, field in enumerate(table.schema):
        if pa.types.is_null(field.type):
            table = table.set_column(i, pa.field(field.name, pa.string()), table.column(i).cast(pa.string()))
    return table


def write(warehouse: WarehouseResource, name: str, frame: pd.DataFrame) -> int:
    """Atomically replace ml.`name` with `frame`."""
    return warehouse.write_table(ML_SCHEMA, name, as_arrow(frame))


def append_run_log(warehouse: WarehouseResource, name: str, rows: pd.DataFrame, key: str) -> pd.DataFrame:
    """Replace ml.`name` with its previous rows plus `rows` (rows with the same `key` value are superseded)."""
    if warehouse.table_exists(ML_SCHEMA, name):
        previous = warehouse.query_df(f'SELECT * FROM {ML_SCHEMA}."{name}"')
        previous = previous[~previous[key].isin(rows[key])]
        combined = (
            pd.concat([previous.astype(object), rows.astype(object)], ignore_index=True) if len(previous) else rows
        )
        combined = combined.infer_objects()
    else:
        combined = rows
    write(warehouse, name, combined)
    return combined


def numeric_metadata(values: Mapping[str, object], prefix: str = "") -> dict[str, dg.MetadataValue]:
    """Flatten nested dicts of numbers into float metadata entries (`prefix` + dotted path); skips non-numbers."""
    out: dict[str, dg.MetadataValue] = {}
    for name, value in values.items():
        label = f"{prefix}{name}"
        if isinstance(value, Mapping):
            out.update(numeric_metadata(value, f"{label}."))
        elif isinstance(value, bool):
            out[label] = dg.MetadataValue.bool(value)
        elif isinstance(value, int | float) and math.isfinite(float(value)):
            out[label] = dg.MetadataValue.float(float(value))
    return out


def markdown_table(frame: pd.DataFrame, float_format: str = ".4g") -> dg.MetadataValue:
    return dg.MetadataValue.md(frame.to_markdown(index=False, floatfmt=float_format))


def finite_or_none(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
