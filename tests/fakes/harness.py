"""Helpers shared by the connector tests: simulator data, source-shaped DuckDB files, raw table reads."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from orchestration.extract.tables import RAW_SCHEMA
from orchestration.resources.warehouse import WarehouseResource, qualified, quote
from orchestration.sources.schemas import SourceTable
from orchestration.sources.simulator import Simulator, SimulatorConfig
from tests.conftest import SMALL_COMPANY

FAST_RETRIES = {"connect_timeout": 2.0, "read_timeout": 2.0, "backoff_initial": 0.01, "backoff_max": 0.05}


@cache
def simulated_tables() -> dict[str, pa.Table]:
    """The SMALL_COMPANY sources at its as-of (generated once per test process)."""
    simulator = Simulator(SimulatorConfig.from_settings(SMALL_COMPANY))
    return simulator.source_tables(SMALL_COMPANY.resolved_as_of())


def realm_names(tables: dict[str, pa.Table]) -> dict[str, str]:
    return {r["name"]: r["id"] for r in tables["keycloak.realm"].to_pylist()}


def write_source_db(tables: dict[str, pa.Table], path: Path, system: str) -> Path:
    """A DuckDB file holding `system`'s tables under their source names (what database mode reads)."""
    with duckdb.connect(str(path)) as con:
        for key, data in tables.items():
            if key.split(".", 1)[0] != system:
                continue
            con.register("_incoming", data)
            con.execute(f"CREATE OR REPLACE TABLE {quote(key.split('.', 1)[1])} AS SELECT * FROM _incoming")
            con.unregister("_incoming")
    return path


def raw_rows(warehouse: WarehouseResource, table: SourceTable, *, with_meta: bool = False) -> list[dict[str, Any]]:
    """The raw table's rows ordered by primary key (source columns, plus `_record_hash`/`_deleted_at` if asked)."""
    columns = list(table.column_names)
    if with_meta:
        columns += ["_record_hash"] + (["_deleted_at"] if table.mode == "snapshot" else [])
    order = ", ".join(quote(k) for k in table.primary_key)
    data = warehouse.query_arrow(
        f"SELECT {', '.join(quote(c) for c in columns)} FROM {qualified(RAW_SCHEMA, table.raw_name)} ORDER BY {order}"
    )
    return data.to_pylist()


def rows_by_key(rows: list[dict[str, Any]], key: str = "id") -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in rows}


def truncate(value: Any, unit: str = "s") -> Any:
    """A timestamp at the precision an API renders (Rails `iso8601`: seconds; `iso8601(3)`: ms)."""
    if not isinstance(value, dt.datetime):
        return value
    return value.replace(microsecond=0) if unit == "s" else value.replace(microsecond=value.microsecond // 1000 * 1000)
