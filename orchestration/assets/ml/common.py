"""Shared pieces of the ML assets: keys, run stamping, metadata flattening, appending to run-log tables."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

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


def placeholders(values: Sequence[object]) -> str:
    """`$1, $2, ...`: one query parameter per value (an IN list on both engines)."""
    return ", ".join(f"${i}" for i in range(1, len(values) + 1))


def append_run_log(warehouse: WarehouseResource, name: str, rows: pd.DataFrame, key: str) -> None:
    """Keep ml.`name`'s previous rows plus `rows`; rows with the same `key` value as one of `rows` are superseded.

    While the table has the same columns: in place, in one transaction (delete those keys, insert `rows` in the
    table's column order and types). No table yet, or one with other columns (written by an older version): the
    whole table is rewritten in one atomic swap.
    """
    new_rows = as_arrow(rows)
    keys = sorted(set(rows[key]))
    relation = f'{ML_SCHEMA}."{name}"'
    with warehouse.connect() as session:
        if session.table_exists(ML_SCHEMA, name):
            existing = session.query_arrow(f"SELECT * FROM {relation} WHERE 1 = 0").schema
            if set(existing.names) == set(new_rows.schema.names):
                session.execute(f'DELETE FROM {relation} WHERE "{key}" IN ({placeholders(keys)})', keys)
                # an all-null column arrives as text: cast to the table's types
                session.bulk_load(ML_SCHEMA, name, new_rows.select(existing.names).cast(existing))
                return
    if warehouse.table_exists(ML_SCHEMA, name):
        previous = warehouse.query_df(f"SELECT * FROM {relation}")
        previous = previous[~previous[key].isin(rows[key])]
        if len(previous):
            rows = pd.concat([previous.astype(object), rows.astype(object)], ignore_index=True).infer_objects()
    write(warehouse, name, rows)


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
