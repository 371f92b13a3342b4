"""File drops: CSV, JSON Lines and Parquet exports loaded once, archived, bad files quarantined; the sensor."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.extract import extract_table
from orchestration.resources.warehouse import WarehouseResource
from orchestration.sensors_file_drops import build_file_drop_sensor
from orchestration.sources.config import load_sources_config
from orchestration.sources.connectors.database import DuckDBFileConnector
from orchestration.sources.connectors.files import FileDropConnector, load_file_drops, write_csv
from orchestration.sources.schemas import TABLES_BY_KEY
from tests.fakes.harness import raw_rows, simulated_tables, write_source_db

CUSTOMERS, INVOICES, EVENTS, USERS = (
    TABLES_BY_KEY[k] for k in ("lago.customers", "lago.invoices", "keycloak.event_entity", "keycloak.user_entity")
)


def write_jsonl(rows: pa.Table | list[dict], path: Path) -> None:
    def plain(value: object) -> object:
        return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value

    rows = rows.to_pylist() if isinstance(rows, pa.Table) else rows
    path.write_text("".join(json.dumps({k: plain(v) for k, v in row.items()}) + "\n" for row in rows))


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


def test_csv_jsonl_and_parquet_drops_load_like_database_mode(make_settings, tmp_path: Path, landing: Path) -> None:
    tables = simulated_tables()
    events = tables["keycloak.event_entity"].slice(0, 2000)
    (landing / "lago_invoices").mkdir()
    write_csv(tables["lago.customers"], landing / "lago_customers__export.csv")
    pq.write_table(tables["lago.invoices"], landing / "lago_invoices" / "2026-10.parquet")
    write_jsonl(events, landing / "keycloak_event_entity.jsonl")

    via_files = WarehouseResource.from_settings(make_settings("files_mode"))
    connector = FileDropConnector(landing)
    report = load_file_drops(via_files, connector)
    assert sorted(f.name for f, _ in report.loaded) == [
        "2026-10.parquet",
        "keycloak_event_entity.jsonl",
        "lago_customers__export.csv",
    ]
    assert not report.quarantined and all(r.rows_rejected == 0 for _, r in report.loaded)

    # the same rows through database mode give the same raw rows (and record hashes)
    via_db = WarehouseResource.from_settings(make_settings("files_vs_db"))
    lago = DuckDBFileConnector(write_source_db(tables, tmp_path / "lago.duckdb", "lago"))
    for table in (CUSTOMERS, INVOICES):
        extract_table(via_db, lago, table)
        assert raw_rows(via_files, table, with_meta=True) == raw_rows(via_db, table, with_meta=True), table.name
    lago.close()
    file_events = raw_rows(via_files, EVENTS, with_meta=True)
    assert file_events == sorted(
        [
            {**r, "_record_hash": h["_record_hash"]}
            for r, h in zip(events.sort_by("id").to_pylist(), file_events, strict=True)
        ],
        key=lambda r: r["id"],
    )

    # files moved to the archive after the commit; the landing folder is empty
    assert sorted(p.name for p in (connector.archive / "lago_invoices").iterdir()) == ["2026-10.parquet"]
    assert connector.pending() == []


def test_each_file_is_loaded_once_by_name_and_checksum(make_settings, landing: Path) -> None:
    warehouse = WarehouseResource.from_settings(make_settings("files_once"))
    connector = FileDropConnector(landing)
    customers = simulated_tables()["lago.customers"]
    write_csv(customers.slice(0, 50), landing / "lago_customers.csv")
    first = load_file_drops(warehouse, connector)
    assert [r.rows_inserted for _, r in first.loaded] == [50]

    # the same file dropped again (e.g. an upload retried): recognised, archived, not loaded
    write_csv(customers.slice(0, 50), landing / "lago_customers.csv")
    again = load_file_drops(warehouse, connector)
    assert [f.name for f in again.already_loaded] == ["lago_customers.csv"] and not again.loaded
    # a new export under the same name (different checksum) is a new file
    write_csv(customers.slice(0, 80), landing / "lago_customers.csv")
    newer = load_file_drops(warehouse, connector)
    assert [(r.rows_inserted, r.rows_unchanged) for _, r in newer.loaded] == [(30, 50)]
    assert len(raw_rows(warehouse, CUSTOMERS)) == 80
    assert len(list((connector.archive / "lago_customers").iterdir())) == 3


def test_bad_files_are_quarantined_with_their_reason_and_bad_rows_rejected(make_settings, landing: Path) -> None:
    warehouse = WarehouseResource.from_settings(make_settings("files_bad"))
    connector = FileDropConnector(landing)
    customers = simulated_tables()["lago.customers"].slice(0, 20)
    write_csv(customers.drop_columns(["external_id"]), landing / "lago_customers__no_external_id.csv")
    write_csv(customers, landing / "stripe_customers.csv")
    (landing / "lago_invoices.parquet").write_bytes(b"PAR1 this is not parquet")
    (landing / "keycloak_event_entity.jsonl").write_text('{"id": "e1", "type": "LOGIN"}\n{"id": "e2", "type"\n')
    rows = customers.to_pylist()
    rows[3]["created_at"] = "yesterday"  # a bad value: that row is rejected, the others load
    write_jsonl(rows, landing / "lago_customers__with_bad_row.jsonl")

    report = load_file_drops(warehouse, connector)
    reasons = {f.name: reason for f, reason in report.quarantined}
    assert set(reasons) == {
        "lago_customers__no_external_id.csv",
        "stripe_customers.csv",
        "lago_invoices.parquet",
        "keycloak_event_entity.jsonl",
    }
    assert "external_id" in reasons["lago_customers__no_external_id.csv"]
    assert "names no raw entity" in reasons["stripe_customers.csv"]
    assert "cannot read parquet" in reasons["lago_invoices.parquet"]
    assert "line 2: invalid JSON" in reasons["keycloak_event_entity.jsonl"]
    for name, reason in reasons.items():
        assert (connector.quarantine / name).exists()
        assert reason in (connector.quarantine / f"{name}.reason.txt").read_text()

    [(_, result)] = report.loaded
    assert (result.rows_received, result.rows_loaded, result.rows_rejected) == (20, 19, 1)
    rejects = warehouse.query("SELECT entity, field, reason FROM raw._rejects")
    assert rejects == [("customers", "created_at", "field created_at: cannot parse 'yesterday' as timestamp")]
    status = dict(warehouse.query("SELECT file_name, status FROM raw._file_drops"))
    assert status["lago_customers__with_bad_row.jsonl"] == "loaded" and status["stripe_customers.csv"] == "quarantined"


def test_a_users_file_is_a_snapshot(make_settings, landing: Path) -> None:
    warehouse = WarehouseResource.from_settings(make_settings("files_snapshot"))
    connector = FileDropConnector(landing)
    users = simulated_tables()["keycloak.user_entity"]
    pq.write_table(users, landing / "keycloak_user_entity__day1.parquet")
    load_file_drops(warehouse, connector)
    pq.write_table(users.slice(1), landing / "keycloak_user_entity__day2.parquet")
    [(_, result)] = load_file_drops(warehouse, connector).loaded
    assert result.rows_deleted == 1


def test_sensor_requests_the_raw_assets_of_new_files(tmp_path: Path, landing: Path) -> None:
    from orchestration.settings import Settings

    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  lago: {{mode: files, landing: {landing}}}\n  keycloak: {{mode: demo}}\n")
    settings = Settings(data_dir=tmp_path, sources_config=config)
    assert load_sources_config(config)["lago"].connector(settings).landing == landing
    sensor = build_file_drop_sensor(settings)

    assert isinstance(sensor(dg.build_sensor_context()), dg.SkipReason)
    write_csv(simulated_tables()["lago.customers"].slice(0, 5), landing / "lago_customers.csv")
    (landing / "lago_invoices").mkdir()
    pq.write_table(simulated_tables()["lago.invoices"].slice(0, 5), landing / "lago_invoices" / "a.parquet")
    (landing / "lago_plans.csv.part").write_text("still uploading")
    result = sensor(dg.build_sensor_context())
    [request] = result.run_requests
    assert request.asset_selection == [dg.AssetKey(["raw", "lago_customers"]), dg.AssetKey(["raw", "lago_invoices"])]
    assert sensor(dg.build_sensor_context()).run_requests[0].run_key == request.run_key, "same files, same key"
