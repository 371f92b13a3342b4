"""DDL of the `raw` schema: one table per source entity plus the loader's bookkeeping tables."""

from __future__ import annotations

import pyarrow as pa

from orchestration.resources.warehouse import WarehouseSession, qualified, quote
from orchestration.sources.schemas import RAW_DELETED_COLUMN, RAW_META_COLUMNS, Column, SourceTable

LOADED_AT = RAW_META_COLUMNS[0].name  # when the loader wrote the row (one value per extraction)

RAW_SCHEMA = "raw"
REJECTS_TABLE = "_rejects"
STATE_TABLE = "_extract_state"

_SQL_TYPES = {
    # arrow type id -> (duckdb, postgres)
    "string": ("VARCHAR", "text"),
    "int32": ("INTEGER", "integer"),
    "int64": ("BIGINT", "bigint"),
    "double": ("DOUBLE", "double precision"),
    "bool": ("BOOLEAN", "boolean"),
    "date32[day]": ("DATE", "date"),
    "timestamp[us]": ("TIMESTAMP", "timestamp"),
}


def sql_type(arrow_type: pa.DataType, engine: str) -> str:
    duckdb_type, postgres_type = _SQL_TYPES[str(arrow_type)]
    return duckdb_type if engine == "duckdb" else postgres_type


def raw_columns(table: SourceTable) -> tuple[Column, ...]:
    """Source columns, then the loader's metadata columns (`_deleted_at` for snapshot entities)."""
    deleted = (RAW_DELETED_COLUMN,) if table.mode == "snapshot" else ()
    return table.columns + RAW_META_COLUMNS + deleted


def loaded_at_index(table: SourceTable) -> str | None:
    """Name of the PostgreSQL index on `_loaded_at` (append-only tables only; see `ensure_raw_table`)."""
    return quote(f"{table.raw_name}__loaded_at") if table.mode == "append" else None


def ensure_loaded_at_index(session: WarehouseSession, table: SourceTable) -> None:
    """PostgreSQL, append-only tables: the `_loaded_at` index, if missing (see `ensure_raw_table` for why)."""
    index = loaded_at_index(table)
    if session.engine == "postgres" and index:
        target = qualified(RAW_SCHEMA, table.raw_name)
        session.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {target} ({quote(LOADED_AT)})")


def ensure_raw_table(session: WarehouseSession, table: SourceTable) -> None:
    """Create `raw.<raw_name>` and the bookkeeping tables if missing.

    Only PostgreSQL gets a primary key: its index serves the merge's key lookups, while DuckDB's
    hash joins need none and its ART index would slow bulk inserts. For the same reason only PostgreSQL
    indexes `_loaded_at` of the append-only (event) tables: "the rows of the latest load" (the GX suites'
    `latest_load` scope, run once per expectation) is then an index range scan, not a scan of the whole history.
    """
    engine = session.engine
    session.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(RAW_SCHEMA)}")
    columns = [
        f"{quote(c.name)} {sql_type(c.type, engine)}" + (" NOT NULL" if c.name in table.primary_key else "")
        for c in raw_columns(table)
    ]
    if engine == "postgres":
        columns.append(f"PRIMARY KEY ({', '.join(quote(k) for k in table.primary_key)})")
    session.execute(f"CREATE TABLE IF NOT EXISTS {qualified(RAW_SCHEMA, table.raw_name)} ({', '.join(columns)})")
    ensure_loaded_at_index(session, table)
    text = sql_type(pa.string(), engine)
    ts = sql_type(pa.timestamp("us"), engine)
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {qualified(RAW_SCHEMA, REJECTS_TABLE)} ("
        f"reject_id {text} PRIMARY KEY, source {text} NOT NULL, entity {text} NOT NULL, record_key {text}, "
        f"field {text}, reason {text} NOT NULL, payload {text}, rejected_at {ts} NOT NULL, run_id {text})"
    )
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {qualified(RAW_SCHEMA, STATE_TABLE)} ("
        f"source {text} NOT NULL, entity {text} NOT NULL, cursor {text}, rows_loaded BIGINT, "
        f"updated_at {ts} NOT NULL, run_id {text}, PRIMARY KEY (source, entity))"
    )
