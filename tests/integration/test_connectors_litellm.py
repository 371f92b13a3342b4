"""LiteLLM database mode: ("startTime", request_id) cursor with a lookback for batch-flushed rows, and columns
added by newer LiteLLM releases tolerated — on a DuckDB source file and on a PostgreSQL source with Prisma's types."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.extract import extract_table
from orchestration.resources.warehouse import WarehouseResource, quote
from orchestration.sources.connectors.database import DuckDBFileConnector, PostgresConnector
from orchestration.sources.schemas import TABLES_BY_KEY
from tests.fakes.harness import raw_rows, simulated_tables

SPEND_LOGS = TABLES_BY_KEY["litellm.LiteLLM_SpendLogs"]
# Columns of newer LiteLLM releases that the contract does not know (schema.prisma, 2025).
NEWER_COLUMNS = {
    "model_id": "VARCHAR",
    "api_base": "VARCHAR",
    "requester_ip_address": "VARCHAR",
    "messages": "JSON",
    "response": "JSON",
    "proxy_server_request": "JSON",
    "mcp_namespaced_tool_name": "VARCHAR",
}


def spend_logs(n: int = 3000) -> pa.Table:
    """A slice of simulated spend logs, one row per request_id, times at LiteLLM's millisecond precision."""
    data = simulated_tables()["litellm.LiteLLM_SpendLogs"].slice(0, n * 2)
    first = {}
    for i, request_id in enumerate(data.column("request_id").to_pylist()):
        first.setdefault(request_id, i)
    data = data.take(sorted(first.values())[:n])
    for name in ("startTime", "endTime", "completionStartTime"):
        i = data.schema.get_field_index(name)
        data = data.set_column(i, name, pc.floor_temporal(data.column(name), unit="millisecond"))
    return data


def duckdb_source(path: Path, rows: pa.Table) -> Path:
    with duckdb.connect(str(path)) as con:
        con.register("_rows", rows)
        extra = ", ".join(f"CAST(NULL AS {t}) AS {quote(c)}" for c, t in NEWER_COLUMNS.items())
        con.execute(f'CREATE TABLE "LiteLLM_SpendLogs" AS SELECT *, {extra} FROM _rows')
    return path


def append_rows(path: Path, rows: pa.Table) -> None:
    with duckdb.connect(str(path)) as con:
        con.register("_rows", rows)
        con.execute('INSERT INTO "LiteLLM_SpendLogs" BY NAME SELECT * FROM _rows')


def test_newer_columns_are_tolerated_and_reported(make_settings, tmp_path: Path) -> None:
    rows = spend_logs()
    source = DuckDBFileConnector(duckdb_source(tmp_path / "litellm.duckdb", rows))
    warehouse = WarehouseResource.from_settings(make_settings("litellm_columns"))
    result = extract_table(warehouse, source, SPEND_LOGS)
    assert (result.rows_loaded, result.rows_rejected) == (rows.num_rows, 0)
    assert sorted(result.extra_columns) == sorted(NEWER_COLUMNS)
    assert result.cursor_after == {
        "startTime": max(rows.column("startTime").to_pylist()),
        "request_id": max(
            r["request_id"] for r in rows.to_pylist() if r["startTime"] == result.cursor_after["startTime"]
        ),
    }
    source.close()


def test_batch_flushed_rows_inside_the_lookback_are_picked_up(make_settings, tmp_path: Path) -> None:
    rows = spend_logs()
    late = rows.slice(rows.num_rows - 200)
    early = rows.slice(0, rows.num_rows - 200)
    path = duckdb_source(tmp_path / "litellm.duckdb", early)
    warehouse = WarehouseResource.from_settings(make_settings("litellm_late"))
    first = extract_table(warehouse, DuckDBFileConnector(path), SPEND_LOGS)
    cursor = first.cursor_after["startTime"]

    # rows flushed late: they started 10 min .. ~3 h BEFORE the stored cursor (inside the 2-day lookback)
    starts = [cursor - dt.timedelta(minutes=10 + i) for i in range(late.num_rows)]
    shifted = late.set_column(
        late.schema.get_field_index("startTime"), "startTime", pa.array(starts, pa.timestamp("us"))
    )
    # and one row that arrives later than the lookback covers: database mode cannot see it (documented)
    too_late = early.slice(0, 1).to_pylist()[0] | {"request_id": "too-late", "startTime": cursor - dt.timedelta(days=3)}
    append_rows(path, shifted)
    append_rows(path, pa.Table.from_pylist([too_late], schema=early.schema))
    second = extract_table(warehouse, DuckDBFileConnector(path), SPEND_LOGS)
    assert second.rows_inserted == late.num_rows
    assert second.rows_unchanged > 0, "the lookback re-read already loaded rows, merged without duplicates"
    assert second.cursor_after == first.cursor_after, "late rows do not move the cursor back"
    ids = [r["request_id"] for r in raw_rows(warehouse, SPEND_LOGS)]
    assert len(ids) == len(set(ids)) == rows.num_rows
    assert "too-late" not in ids


PRISMA_DDL = """
CREATE TABLE "LiteLLM_SpendLogs" (
    request_id text PRIMARY KEY, call_type text NOT NULL, api_key text NOT NULL DEFAULT '',
    spend double precision NOT NULL DEFAULT 0.0, total_tokens integer NOT NULL DEFAULT 0,
    prompt_tokens integer NOT NULL DEFAULT 0, completion_tokens integer NOT NULL DEFAULT 0,
    "startTime" timestamp(3) NOT NULL, "endTime" timestamp(3) NOT NULL, "completionStartTime" timestamp(3),
    model text NOT NULL DEFAULT '', model_id text DEFAULT '', model_group text DEFAULT '',
    custom_llm_provider text DEFAULT '', api_base text DEFAULT '', "user" text DEFAULT '',
    metadata jsonb DEFAULT '{}', cache_hit text DEFAULT '', cache_key text DEFAULT '',
    request_tags jsonb DEFAULT '[]', team_id text, organization_id text, end_user text,
    requester_ip_address text, messages jsonb DEFAULT '{}', response jsonb DEFAULT '{}', session_id text,
    status text, mcp_namespaced_tool_name text, proxy_server_request jsonb DEFAULT '{}', request_duration_ms integer
)
"""


def test_postgres_source_with_prisma_types_gives_the_same_raw_rows(
    make_settings, tmp_path: Path, postgres_databases
) -> None:
    rows = spend_logs(1500)
    source_db = postgres_databases.create("litellm_source")
    columns = list(SPEND_LOGS.column_names)
    with psycopg.connect(source_db.conninfo, autocommit=True) as conn:
        conn.execute(PRISMA_DDL)
        with conn.cursor().copy(
            f'COPY "LiteLLM_SpendLogs" ({", ".join(quote(c) for c in columns)}) FROM STDIN'
        ) as copy:
            for row in rows.to_pylist():
                copy.write_row([row[c] for c in columns])
    via_pg = WarehouseResource.from_settings(make_settings("litellm_from_pg"))
    via_duckdb = WarehouseResource.from_settings(make_settings("litellm_from_duckdb"))
    pg_source = PostgresConnector(source_db.url)
    pg_result = extract_table(via_pg, pg_source, SPEND_LOGS)
    pg_source.close()
    assert (pg_result.rows_loaded, pg_result.rows_rejected) == (rows.num_rows, 0)
    assert "mcp_namespaced_tool_name" in pg_result.extra_columns
    extract_table(via_duckdb, DuckDBFileConnector(duckdb_source(tmp_path / "litellm.duckdb", rows)), SPEND_LOGS)

    def comparable(row: dict) -> dict:
        # jsonb renders its own canonical text: compare the JSON values
        return {**row, "metadata": json.loads(row["metadata"]), "request_tags": json.loads(row["request_tags"])}

    assert [comparable(r) for r in raw_rows(via_pg, SPEND_LOGS)] == [
        comparable(r) for r in raw_rows(via_duckdb, SPEND_LOGS)
    ]
