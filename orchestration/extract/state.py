"""Cursor state per source entity, kept in `raw._extract_state` and written in the load's transaction."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa

from orchestration.extract.tables import RAW_SCHEMA, STATE_TABLE
from orchestration.resources.warehouse import WarehouseSession, qualified
from orchestration.sources.schemas import SourceTable

Cursor = dict[str, object]


def _encode(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value


def _decode(table: SourceTable, name: str, value: object) -> object:
    arrow_type = table.column(name).type
    if value is not None and pa.types.is_timestamp(arrow_type):
        return dt.datetime.fromisoformat(str(value))
    if value is not None and pa.types.is_date(arrow_type):
        return dt.date.fromisoformat(str(value))
    return value


def cursor_to_json(cursor: Cursor | None) -> str | None:
    return None if cursor is None else json.dumps({k: _encode(v) for k, v in cursor.items()})


def read_cursor(session: WarehouseSession, table: SourceTable) -> Cursor | None:
    rows = session.query(
        f"SELECT cursor FROM {qualified(RAW_SCHEMA, STATE_TABLE)} WHERE source = $1 AND entity = $2",
        [table.system, table.name],
    )
    if not rows or rows[0][0] is None:
        return None
    return {k: _decode(table, k, v) for k, v in json.loads(rows[0][0]).items()}


def write_cursor(
    session: WarehouseSession, table: SourceTable, cursor: Cursor | None, rows: int, now: dt.datetime, run_id: str
) -> None:
    target = qualified(RAW_SCHEMA, STATE_TABLE)
    session.execute(f"DELETE FROM {target} WHERE source = $1 AND entity = $2", [table.system, table.name])
    session.execute(
        f"INSERT INTO {target} (source, entity, cursor, rows_loaded, updated_at, run_id) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        [table.system, table.name, cursor_to_json(cursor), rows, now, run_id],
    )


def cursor_key(table: SourceTable, cursor: Cursor) -> tuple:
    return tuple(cursor[c] for c in table.cursor)


def lower_bound(table: SourceTable, cursor: Cursor | None) -> tuple[str, object] | None:
    """(first cursor column, value) to read from: the stored cursor minus the lookback window."""
    if not table.cursor or cursor is None:
        return None
    column = table.cursor[0]
    value = cursor[column]
    if isinstance(value, dt.datetime | dt.date):
        return column, value - table.lookback
    # integer epoch milliseconds (Keycloak event_time)
    return column, int(value) - int(table.lookback.total_seconds() * 1000)
