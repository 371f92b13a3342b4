"""Turning JSON API records into contract-shaped Arrow tables (shared by the Lago and Keycloak connectors).

Parsers are lenient on purpose: a value they cannot convert is passed on as its original text, and
the column then travels as strings, so the loader's contract validation rejects exactly that row with
"field X: cannot parse '…'" instead of the whole page failing here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from orchestration.sources.schemas import SourceTable


def timestamp(value: Any) -> dt.datetime | str | None:
    """ISO 8601 (`2026-01-31T10:00:00Z`, with or without fraction/offset) -> naive UTC datetime."""
    if value is None or value == "":
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def date(value: Any) -> dt.date | str | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)


def number(value: Any) -> float | str | None:
    """Rails renders decimals as strings ("12.5"); floats and ints pass through."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def enum_code(value: Any, codes: Mapping[int, str]) -> int | str | None:
    """Lago renders integer enums by name; the contract stores the Rails integer."""
    if value is None:
        return None
    for code, name in codes.items():
        if name == value:
            return code
    return str(value)


def to_arrow(table: SourceTable, rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts by contract column) -> a table in `table.arrow_schema`; strings where a value did not convert
    (bytes where a value is undecodable text)."""
    rows = list(rows)
    arrays, fields = [], []
    for column in table.columns:
        values = [row.get(column.name) for row in rows]
        try:
            array = pa.array(values, type=column.type)
            field = pa.field(column.name, column.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            if any(isinstance(v, bytes) for v in values):  # text that is not UTF-8: the contract rejects the row
                array = pa.array([v if v is None or isinstance(v, bytes) else _text(v).encode() for v in values])
            else:
                array = pa.array([None if v is None else _text(v) for v in values], type=pa.string())
            field = pa.field(column.name, array.type)
        arrays.append(array)
        fields.append(field)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
