"""Extraction into raw on each engine: incremental merge, idempotent reruns, rejects, snapshots, drift, assets."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pyarrow as pa
import pytest
import yaml

from orchestration.assets.raw import build_raw_assets
from orchestration.extract import SchemaDriftError, extract_table, load_batches
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import Settings
from orchestration.sources.connectors import database_connector
from orchestration.sources.schemas import SourceTable, table

CUSTOMERS = table("lago.customers")
USERS = table("keycloak.user_entity")
SPEND_LOGS = table("litellm.LiteLLM_SpendLogs")
T0 = dt.datetime(2026, 10, 1, 8, 0)


# --- source databases written from hand-made rows, in the sources' own shapes ------------------
def write_source(path: Path, source: SourceTable, rows: list[dict], *, text: bool = False) -> None:
    """(Re)create `source.name` in the DuckDB file with exactly `rows` (`text=True`: every column as text)."""
    fields = [pa.field(c.name, pa.string() if text else c.type) for c in source.columns]
    extra = [k for k in (rows[0] if rows else {}) if k not in source.column_names]
    fields += [pa.field(k, pa.string()) for k in extra]
    data = pa.Table.from_pylist([{f.name: row.get(f.name) for f in fields} for row in rows], schema=pa.schema(fields))
    with duckdb.connect(str(path)) as con:
        con.register("rows_in", data)
        con.execute(f'CREATE OR REPLACE TABLE "{source.name}" AS SELECT * FROM rows_in')


def customer(i: int, updated: dt.datetime = T0, **overrides: object) -> dict:
    return {
        "id": f"cus-{i:04d}",
        "external_id": f"ext-{i:04d}",
        "name": f"Customer {i}",
        "email": f"billing@c{i}.example.com",
        "country": "DE",
        "currency": "EUR",
        "timezone": "UTC",
        "customer_type": "company",
        "net_payment_term": 30,
        "created_at": T0 - dt.timedelta(days=30),
        "updated_at": updated,
        "deleted_at": None,
    } | overrides


def user(i: int, **overrides: object) -> dict:
    return {
        "id": f"user-{i:04d}",
        "username": f"user{i}",
        "email": f"user{i}@c.example.com",
        "email_verified": True,
        "enabled": True,
        "first_name": "A",
        "last_name": "B",
        "created_timestamp": 1_760_000_000_000 + i,
        "realm_id": "realm-1",
        "service_account_client_link": None,
    } | overrides


def spend_log(i: int, start: dt.datetime, **overrides: object) -> dict:
    return {
        "request_id": f"req-{i:06d}",
        "call_type": "acompletion",
        "api_key": "hashed",
        "spend": 0.0012,
        "total_tokens": 300,
        "prompt_tokens": 200,
        "completion_tokens": 100,
        "startTime": start,
        "endTime": start + dt.timedelta(seconds=2),
        "completionStartTime": None,
        "request_duration_ms": 2000,
        "model": "gpt-4o",
        "model_group": "gpt-4o",
        "custom_llm_provider": "openai",
        "user": "user-0001",
        "end_user": "ext-0001",
        "team_id": "",
        "organization_id": "",
        "metadata": "{}",
        "request_tags": "[]",
        "cache_hit": "False",
        "cache_key": "",
        "status": "success",
        "session_id": "s1",
    } | overrides


def extract(warehouse: WarehouseResource, path: Path, source: SourceTable, now: dt.datetime | None = None):
    connector = database_connector(path, "database")
    try:
        return extract_table(warehouse, connector, source, now=now)
    finally:
        connector.close()


def raw_rows(warehouse: WarehouseResource, source: SourceTable) -> list[tuple]:
    key = ", ".join(f'"{k}"' for k in source.primary_key)
    return warehouse.query(f'SELECT * FROM raw."{source.raw_name}" ORDER BY {key}')


def rejects(warehouse: WarehouseResource, entity: str) -> list[tuple]:
    return warehouse.query(
        "SELECT record_key, field, reason, payload FROM raw._rejects WHERE entity = $1 ORDER BY record_key, reason",
        [entity],
    )


@pytest.fixture
def warehouse_and_source(make_settings, request) -> tuple[WarehouseResource, Path, Settings]:
    settings = make_settings(request.node.name[:40])
    settings.source_dir.mkdir(parents=True, exist_ok=True)
    return WarehouseResource.from_settings(settings), settings.source_dir / "source.duckdb", settings


# --- incremental entities (Lago) -----------------------------------------------------------------
def test_incremental_merge_loads_new_and_changed_rows_once(warehouse_and_source) -> None:
    warehouse, path, _ = warehouse_and_source
    rows = [customer(i, T0 - dt.timedelta(hours=i)) for i in range(5)]
    write_source(path, CUSTOMERS, rows)
    first = extract(warehouse, path, CUSTOMERS)
    assert (first.rows_received, first.rows_inserted, first.rows_rejected) == (5, 5, 0)
    assert first.cursor_after == {"updated_at": T0, "id": "cus-0000"}
    before = raw_rows(warehouse, CUSTOMERS)

    # The rerun re-reads only the lookback window (cursor - 1 h) and writes nothing.
    rerun = extract(warehouse, path, CUSTOMERS)
    assert (rerun.rows_received, rerun.rows_inserted, rerun.rows_updated, rerun.rows_unchanged) == (2, 0, 0, 2)
    assert raw_rows(warehouse, CUSTOMERS) == before  # nothing rewritten: _loaded_at stays

    later = T0 + dt.timedelta(hours=3)
    rows[2] = customer(2, later, name="Renamed")
    rows.append(customer(5, later))
    write_source(path, CUSTOMERS, rows)
    third = extract(warehouse, path, CUSTOMERS)
    assert (third.rows_received, third.rows_inserted, third.rows_updated, third.rows_unchanged) == (4, 1, 1, 2)
    assert third.cursor_before == {"updated_at": T0, "id": "cus-0000"}
    assert third.cursor_after == {"updated_at": later, "id": "cus-0005"}
    names = dict(warehouse.query('SELECT id, name FROM raw."lago_customers"'))
    assert names["cus-0002"] == "Renamed" and len(names) == 6
    unchanged_before = {r[0]: r for r in before}
    for row in raw_rows(warehouse, CUSTOMERS):
        if row[0] in ("cus-0000", "cus-0001", "cus-0003", "cus-0004"):
            assert row == unchanged_before[row[0]]


def test_contract_breaks_are_rejected_with_reasons(warehouse_and_source) -> None:
    warehouse, path, _ = warehouse_and_source
    subscriptions = table("lago.subscriptions")
    base = {
        "external_id": "sub-ext",
        "customer_id": "cus-1",
        "plan_id": "plan-1",
        "status": "1",
        "billing_time": "0",
        "started_at": "2026-10-01 00:00:00",
        "created_at": "2026-10-01 00:00:00",
        "updated_at": "2026-10-01 00:00:00",
    }
    rows = [
        base | {"id": "ok-1"},
        base | {"id": "bad-enum", "status": "9"},
        base | {"id": "bad-time", "started_at": "2024-13-01"},
        base | {"id": None},
        base | {"id": "bad-int", "billing_time": "yes"},
    ]
    write_source(path, subscriptions, rows, text=True)
    result = extract(warehouse, path, subscriptions)
    assert (result.rows_received, result.rows_loaded, result.rows_rejected) == (5, 1, 4)
    found = rejects(warehouse, "subscriptions")
    reasons = {(key, field, reason) for key, field, reason, _ in found}
    assert reasons == {
        ("", "id", "field id: required value missing"),
        ("bad-enum", "status", "field status: unknown enum code 9"),
        ("bad-int", "billing_time", "field billing_time: cannot parse 'yes' as integer"),
        ("bad-time", "started_at", "field started_at: cannot parse '2024-13-01' as timestamp"),
    }
    payload = json.loads(next(p for key, _, _, p in found if key == "bad-enum"))
    assert payload["status"] == "9" and payload["external_id"] == "sub-ext"

    again = extract(warehouse, path, subscriptions)  # a re-read does not duplicate rejects
    assert again.rows_rejected == 4
    assert len(rejects(warehouse, "subscriptions")) == 4
    assert [r[0] for r in raw_rows(warehouse, subscriptions)] == ["ok-1"]


def test_conflicting_duplicates_keep_the_latest_and_reject_the_rest(warehouse_and_source) -> None:
    warehouse, _, _ = warehouse_and_source
    late = T0 + dt.timedelta(minutes=5)
    batch = pa.Table.from_pylist(
        [customer(1), customer(1), customer(2, name="old"), customer(2, late, name="new"), customer(3)],
        schema=pa.schema([pa.field(c.name, c.type) for c in CUSTOMERS.columns]),
    )
    result = load_batches(warehouse, CUSTOMERS, batch, source_label="files")
    assert result.rows_received == result.rows_loaded + result.rows_rejected == 5
    assert (result.rows_inserted, result.duplicates_collapsed, result.rows_rejected) == (3, 1, 1)
    assert dict(warehouse.query('SELECT id, name FROM raw."lago_customers"'))["cus-0002"] == "new"
    [(key, field, reason, _)] = rejects(warehouse, "customers")
    assert (key, field, reason) == ("cus-0002", "id", "duplicate key with conflicting content")


def test_cursor_never_moves_back(warehouse_and_source) -> None:
    warehouse, path, _ = warehouse_and_source
    write_source(path, CUSTOMERS, [customer(1, T0 + dt.timedelta(hours=5))])
    extract(warehouse, path, CUSTOMERS)
    write_source(path, CUSTOMERS, [customer(1, T0 + dt.timedelta(hours=4, minutes=30), name="restored")])
    result = extract(warehouse, path, CUSTOMERS)
    assert result.cursor_after == result.cursor_before == {"updated_at": T0 + dt.timedelta(hours=5), "id": "cus-0001"}
    assert any("behind the stored cursor" in note for note in result.notes)


# --- append entities (LiteLLM usage) ----------------------------------------------------------------
def test_usage_append_with_lookback_picks_up_late_rows(warehouse_and_source) -> None:
    warehouse, path, _ = warehouse_and_source
    rows = [spend_log(i, T0 + dt.timedelta(hours=i)) for i in range(10)]
    write_source(path, SPEND_LOGS, rows)
    first = extract(warehouse, path, SPEND_LOGS)
    assert first.rows_inserted == 10
    # A row flushed late (startTime 20 h before the cursor, inside the 2-day lookback) and a new one.
    rows += [spend_log(100, T0 + dt.timedelta(hours=-11)), spend_log(101, T0 + dt.timedelta(hours=12))]
    write_source(path, SPEND_LOGS, rows)
    second = extract(warehouse, path, SPEND_LOGS)
    assert (second.rows_inserted, second.rows_updated) == (2, 0)
    assert second.rows_unchanged == 10
    names = warehouse.query_arrow("SELECT * FROM raw.litellm_spendlogs LIMIT 0").schema.names
    assert names[:8] == list(SPEND_LOGS.column_names[:8]) and "startTime" in names
    assert names[-3:] == ["_loaded_at", "_source", "_record_hash"]
    assert warehouse.query("SELECT count(*) FROM raw.litellm_spendlogs")[0][0] == 12
    if warehouse.engine == "postgres":  # the first load drops and rebuilds them around its COPY
        indexes = warehouse.query(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'raw' AND tablename = 'litellm_spendlogs' ORDER BY 1"
        )
        assert [row[0].split(" USING ")[1] for row in indexes] == ["btree (_loaded_at)", "btree (request_id)"]


# --- snapshot entities (Keycloak users) -------------------------------------------------------------
def test_snapshot_records_deletes_and_restores(warehouse_and_source) -> None:
    warehouse, path, _ = warehouse_and_source
    write_source(path, USERS, [user(i) for i in range(4)])
    assert extract(warehouse, path, USERS).rows_inserted == 4
    write_source(path, USERS, [user(0), user(1), user(3, enabled=False)])
    second = extract(warehouse, path, USERS, now=T0)
    assert (second.rows_deleted, second.rows_updated, second.rows_unchanged) == (1, 1, 2)
    deleted = dict(warehouse.query("SELECT id, _deleted_at FROM raw.keycloak_user_entity"))
    assert deleted["user-0002"] == T0 and deleted["user-0001"] is None
    write_source(path, USERS, [user(i) for i in range(3)] + [user(3, enabled=False)])
    third = extract(warehouse, path, USERS)
    assert (third.rows_restored, third.rows_deleted, third.rows_inserted) == (1, 0, 0)
    assert all(d is None for _, d in warehouse.query("SELECT id, _deleted_at FROM raw.keycloak_user_entity"))


# --- schema drift ------------------------------------------------------------------------------------
def test_missing_column_is_a_clear_error_and_new_columns_are_reported(warehouse_and_source) -> None:
    warehouse, path, _ = warehouse_and_source
    write_source(path, USERS, [user(1) | {"new_flag": "x"}])
    result = extract(warehouse, path, USERS)
    assert result.extra_columns == ["new_flag"] and result.rows_inserted == 1
    assert "new_flag" not in warehouse.query_arrow("SELECT * FROM raw.keycloak_user_entity").schema.names
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE user_entity RENAME COLUMN realm_id TO realm")
    with pytest.raises(SchemaDriftError, match=r"'keycloak'.*'user_entity'.*'realm_id' missing"):
        extract(warehouse, path, USERS)


# --- warehouse resource --------------------------------------------------------------------------------
def test_write_table_replaces_atomically_and_reads_back(warehouse_and_source) -> None:
    warehouse, _, _ = warehouse_and_source
    import pandas as pd

    warehouse.write_table("ml", "scores", pd.DataFrame({"customer": ["a", "b"], "score": [0.1, 0.9]}))
    warehouse.write_table("ml", "scores", pa.table({"customer": ["c"], "score": [0.5], "model": ["v2"]}))
    frame = warehouse.query_df("SELECT * FROM ml.scores")
    assert frame.to_dict("records") == [{"customer": "c", "score": 0.5, "model": "v2"}]
    assert warehouse.table_exists("ml", "scores") and not warehouse.table_exists("ml", "nothing")


# --- Dagster assets ------------------------------------------------------------------------------------
def test_raw_assets_materialize_from_database_mode_sources(warehouse_and_source) -> None:
    warehouse, _, settings = warehouse_and_source
    litellm = settings.source_dir / "litellm.duckdb"
    write_source(litellm, SPEND_LOGS, [spend_log(i, T0 + dt.timedelta(minutes=i)) for i in range(3)])
    settings.sources_config.write_text(
        yaml.safe_dump({"sources": {"litellm": {"mode": "database", "url": f"duckdb://{litellm}"}}})
    )
    assets = build_raw_assets(settings)
    by_key = {a.key.to_user_string(): a for a in assets}
    assert "sources/demo_databases" in by_key  # lago and keycloak stay in demo mode
    spend_asset = by_key["raw/litellm_spendlogs"]
    assert spend_asset.group_names_by_key[spend_asset.key] == "raw"
    assert not spend_asset.asset_deps[spend_asset.key]  # database mode: no demo upstream
    assert by_key["raw/lago_customers"].asset_deps[by_key["raw/lago_customers"].key] == {
        dg.AssetKey(["sources", "demo_databases"])
    }
    result = dg.materialize([spend_asset], resources={"warehouse": warehouse})
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["rows_received"].value == 3 and metadata["rows_rejected"].value == 0
    assert metadata["rows_inserted"].value == 3
    rerun = dg.materialize([spend_asset], resources={"warehouse": warehouse})
    [event] = rerun.get_asset_materialization_events()
    assert event.materialization.metadata["rows_inserted"].value == 0
    assert warehouse.query("SELECT _source, count(*) FROM raw.litellm_spendlogs GROUP BY 1") == [("database", 3)]


# --- PostgreSQL source (a real deployment's LiteLLM database) ----------------------------------------
def test_postgres_source_is_read_by_column_name(warehouse_and_source, postgres_databases) -> None:
    warehouse, _, _ = warehouse_and_source
    source = postgres_databases.create(f"litellm_src_{warehouse.engine}")
    with psycopg.connect(source.conninfo, autocommit=True) as conn:
        # Prisma's shape: quoted camelCase identifiers, jsonb metadata, timestamp(3); columns in another order.
        conn.execute(
            'CREATE TABLE "LiteLLM_SpendLogs" (request_id text PRIMARY KEY, "startTime" timestamp(3) NOT NULL, '
            "call_type text, api_key text, spend double precision, total_tokens integer, prompt_tokens integer, "
            'completion_tokens integer, "endTime" timestamp(3), "completionStartTime" timestamp(3), '
            'request_duration_ms integer, model text, model_group text, custom_llm_provider text, "user" text, '
            "end_user text, team_id text, organization_id text, metadata jsonb, request_tags jsonb, cache_hit text, "
            "cache_key text, status text, session_id text, mcp_namespaced_tool_name text)"
        )
        conn.execute(
            'INSERT INTO "LiteLLM_SpendLogs" (request_id, "startTime", call_type, spend, model, metadata, status) '
            "VALUES ('r1', '2026-10-01 08:00:00.123', 'acompletion', 0.5, 'gpt-4o', '{\"a\": 1}', 'success'), "
            "('r2', '2026-10-01 09:00:00', 'acompletion', 0.25, 'gpt-4o', NULL, 'nope')"
        )
    connector = database_connector(source.url, "database")
    try:
        result = extract_table(warehouse, connector, SPEND_LOGS)
    finally:
        connector.close()
    assert (result.rows_received, result.rows_inserted, result.rows_rejected) == (2, 1, 1)
    assert result.extra_columns == ["mcp_namespaced_tool_name"]
    # Rejected rows were recorded, so the cursor moves past them too.
    assert result.cursor_after == {"startTime": dt.datetime(2026, 10, 1, 9), "request_id": "r2"}
    assert warehouse.query('SELECT request_id, metadata, "startTime" FROM raw.litellm_spendlogs') == [
        ("r1", '{"a": 1}', dt.datetime(2026, 10, 1, 8, 0, 0, 123000))
    ]
