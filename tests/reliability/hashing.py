"""Content hashes of every relation in the warehouse, per engine, to prove reruns change nothing.

Each table or view is hashed in SQL: its rows rendered as text by the engine (DuckDB: the row as a struct cast to
VARCHAR; PostgreSQL: the row literal), sorted, concatenated and md5'd, so the hash does not depend on physical row
order. Hashes are compared within one engine (renderings differ between engines). Every relation of every user
schema is included, so a leftover `__dbt_tmp`/`__dbt_backup` table after a crash shows up as a difference.
"""

from __future__ import annotations

from collections.abc import Mapping

from orchestration.resources.warehouse import WarehouseResource, WarehouseSession, qualified, quote

SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", "pg_toast")

# Columns that may differ between two runs without the data differing; everything else is compared.
# raw._extract_state: when the last extraction ran, its run id, and how many rows that last read re-received
# (a re-read of the lookback window receives fewer rows) — bookkeeping about the last run, not data. Its
# `cursor` column IS compared: a rerun must leave every cursor where the uninterrupted run left it.
LAST_RUN_BOOKKEEPING: Mapping[str, tuple[str, ...]] = {"raw._extract_state": ("updated_at", "run_id", "rows_loaded")}


def content_hashes(
    warehouse: WarehouseResource, exclude: Mapping[str, tuple[str, ...]] = LAST_RUN_BOOKKEEPING
) -> dict[str, str]:
    """`schema.name` -> "<row count>:<md5 of the sorted row texts>" for every relation of the warehouse."""
    hashes: dict[str, str] = {}
    with warehouse.connect() as session:
        for schema, name in _relations(session):
            key = f"{schema}.{name}"
            text = _row_text(session, schema, name, exclude.get(key, ()))
            count, digest = session.query(
                f"SELECT count(*), md5(coalesce(string_agg(r, chr(10) ORDER BY r), '')) "
                f"FROM (SELECT {text} AS r FROM {qualified(schema, name)} AS t) AS rows_as_text"
            )[0]
            hashes[key] = f"{count}:{digest}"
    return hashes


def _relations(session: WarehouseSession) -> list[tuple[str, str]]:
    """(schema, name) of every table and view in the user schemas, sorted."""
    placeholders = ", ".join(f"'{s}'" for s in SYSTEM_SCHEMAS)
    catalog = "AND table_catalog = current_database() " if session.engine == "duckdb" else ""
    rows = session.query(
        "SELECT table_schema, table_name FROM information_schema.tables "
        f"WHERE table_schema NOT IN ({placeholders}) AND table_schema NOT LIKE 'pg_temp%' {catalog}"
        "ORDER BY 1, 2"
    )
    return [(r[0], r[1]) for r in rows]


def _row_text(session: WarehouseSession, schema: str, name: str, excluded: tuple[str, ...]) -> str:
    if not excluded:
        return "CAST(t AS VARCHAR)" if session.engine == "duckdb" else "t::text"
    columns = [c for c in session.columns(schema, name) if c not in excluded]
    cols = ", ".join(f"t.{quote(c)}" for c in columns)
    return f"CAST(row({cols}) AS VARCHAR)" if session.engine == "duckdb" else f"row({cols})::text"


def differences(expected: Mapping[str, str], actual: Mapping[str, str]) -> dict[str, tuple[str | None, str | None]]:
    """Relations whose hash differs (or that exist on one side only): name -> (expected, actual)."""
    return {
        name: (expected.get(name), actual.get(name))
        for name in sorted(set(expected) | set(actual))
        if expected.get(name) != actual.get(name)
    }
