"""Lago REST connector against a local fake Lago API serving simulator data (with faults), and against database mode."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator

import pyarrow as pa
import pytest

from orchestration.extract import extract_table
from orchestration.extract.state import read_cursor
from orchestration.resources.warehouse import WarehouseResource
from orchestration.sources.connectors.database import DuckDBFileConnector
from orchestration.sources.connectors.http import HttpPolicy, PageFetchError
from orchestration.sources.connectors.lago_api import API_GAPS, UNAVAILABLE, LagoApiConnector
from orchestration.sources.schemas import LAGO_TABLES, TABLES_BY_KEY
from tests.fakes.harness import FAST_RETRIES, raw_rows, rows_by_key, simulated_tables, truncate, write_source_db
from tests.fakes.lago import FakeLagoApi
from tests.fakes.server import Fault

API_TABLES = [t for t in LAGO_TABLES if t.name not in UNAVAILABLE]
INVOICES = TABLES_BY_KEY["lago.invoices"]
TOKEN = "lago-test-token"


@pytest.fixture
def lago_api() -> Iterator[FakeLagoApi]:
    with FakeLagoApi(simulated_tables(), token=TOKEN) as server:
        yield server


def connector(server: FakeLagoApi, per_page: int = 50, **policy: float) -> LagoApiConnector:
    con = LagoApiConnector(server.base_url, TOKEN, per_page=per_page, policy=HttpPolicy(**{**FAST_RETRIES, **policy}))
    con.client.sleep = lambda seconds: None  # record the waits (client.waits) without spending them
    return con


def sorted_table(table: pa.Table) -> pa.Table:
    return table.sort_by("id")


def new_invoice(server: FakeLagoApi) -> dict:
    """A fresh invoice issued after every other one: it lands on page 1 (newest first) and shifts the rest."""
    latest = max(server.rows["invoices"], key=lambda r: (r["issuing_date"], r["created_at"]))
    return {
        **latest,
        "id": str(uuid.uuid4()),
        "number": "INV-NEW-1",
        "issuing_date": latest["issuing_date"] + dt.timedelta(days=1),
        "created_at": latest["created_at"] + dt.timedelta(days=1),
        "updated_at": latest["updated_at"] + dt.timedelta(days=1),
    }


SCENARIOS: dict[str, Callable[[FakeLagoApi], list[Fault]]] = {
    "429 with Retry-After": lambda s: [
        Fault("status", "/invoices", {"page": "2"}, times=2, status=429, retry_after="3")
    ],
    "intermittent 500s": lambda s: [
        Fault("status", "/invoices", {"page": "3"}, times=3, status=500),
        Fault("status", "/customers", {"page": "1"}, times=1, status=503),
    ],
    "timeout": lambda s: [Fault("timeout", "/invoices", {"page": "4"}, times=1, delay=1.0)],
    "truncated JSON page": lambda s: [Fault("truncate", "/invoices", {"page": "5"}, times=1)],
    "page changes between reads": lambda s: [
        Fault("mutate", "/invoices", {"page": "2"}, times=1, action=lambda: s.upsert("invoices", [new_invoice(s)]))
    ],
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_fault_scenario_converges_to_the_fault_free_result(lago_api: FakeLagoApi, scenario: str) -> None:
    faults = [lago_api.add_fault(f) for f in SCENARIOS[scenario](lago_api)]
    faulted = connector(lago_api, read_timeout=0.3)
    results = {t.name: sorted_table(faulted.read_table(t)) for t in API_TABLES}
    assert all(f.fired == f.times for f in faults), "every injected fault was served"

    lago_api.faults.clear()
    clean = connector(lago_api)
    for table in API_TABLES:
        expected = sorted_table(clean.read_table(table))
        got = results[table.name]
        assert got.num_rows == len(set(got.column("id").to_pylist())), f"{table.name}: duplicated rows"
        assert got.equals(expected), f"{table.name}: differs from the fault-free read after {scenario}"
    if scenario == "429 with Retry-After":
        assert [w for w in faulted.client.waits if w >= 3.0], "the Retry-After delay was honoured"
    if scenario == "page changes between reads":
        assert results["invoices"].num_rows == len(lago_api.rows["invoices"])
        assert faulted.stats.passes > clean.stats.passes, "the shifted listing was read again"


def test_subscriptions_are_requested_with_every_status(lago_api: FakeLagoApi) -> None:
    table = TABLES_BY_KEY["lago.subscriptions"]
    got = connector(lago_api).read_table(table)
    statuses = lago_api.requests_to("/subscriptions")[0]["status[]"]
    assert sorted(statuses) == ["active", "canceled", "pending", "terminated"]
    assert got.num_rows == simulated_tables()["lago.subscriptions"].num_rows
    assert set(got.column("status").to_pylist()) > {1}, "not only active subscriptions"


def test_unavailable_entity_names_the_alternative(lago_api: FakeLagoApi) -> None:
    with pytest.raises(LookupError, match=r"invoice_subscriptions.*database or files"):
        connector(lago_api).source_columns(TABLES_BY_KEY["lago.invoice_subscriptions"])


def _db_row_as_api_sees_it(table_name: str, row: dict) -> dict:
    gaps = API_GAPS.get(table_name, {})
    out = {}
    for column, value in row.items():
        if column in gaps:
            continue
        out[column] = truncate(value, "ms" if (table_name, column) == ("subscriptions", "started_at") else "s")
    return out


def test_api_and_database_modes_give_identical_raw_tables(make_settings, tmp_path, lago_api: FakeLagoApi) -> None:
    tables = simulated_tables()
    source = DuckDBFileConnector(write_source_db(tables, tmp_path / "lago.duckdb", "lago"))
    via_db = WarehouseResource.from_settings(make_settings("lago_db_mode"))
    via_api = WarehouseResource.from_settings(make_settings("lago_api_mode"))
    api = connector(lago_api)
    for table in API_TABLES:
        extract_table(via_db, source, table)
        result = extract_table(via_api, api, table)
        assert result.rows_rejected == 0, f"{table.name}: {result.metadata()}"
        db_rows = {k: _db_row_as_api_sees_it(table.name, r) for k, r in rows_by_key(raw_rows(via_db, table)).items()}
        api_rows = {k: _db_row_as_api_sees_it(table.name, r) for k, r in rows_by_key(raw_rows(via_api, table)).items()}
        if "deleted_at" in API_GAPS.get(table.name, {}):  # the API does not list soft-deleted rows
            deleted = {r["id"] for r in raw_rows(via_db, table) if r["deleted_at"] is not None}
            db_rows = {k: r for k, r in db_rows.items() if k not in deleted}
        assert api_rows == db_rows, f"{table.name}: API and database raw tables differ"
    source.close()
    api.close()


def test_failed_page_fails_with_url_and_page_and_keeps_the_cursor(make_settings, lago_api: FakeLagoApi) -> None:
    warehouse = WarehouseResource.from_settings(make_settings("lago_failed_page"))
    api = connector(lago_api, per_page=10)
    before = extract_table(warehouse, api, INVOICES).cursor_after
    added = new_invoice(lago_api)
    lago_api.upsert("invoices", [added])

    lago_api.add_fault(Fault("status", "/invoices", {"page": "3"}, times=1000, status=502))
    with pytest.raises(PageFetchError, match=r"GET http://127\.0\.0\.1:\d+/api/v1/invoices\?.*page=3.*\(page 3\)"):
        extract_table(warehouse, api, INVOICES)
    with warehouse.connect() as session:
        assert read_cursor(session, INVOICES) == before, "the cursor did not move"
    assert added["id"] not in rows_by_key(raw_rows(warehouse, INVOICES)), "nothing of the failed read was kept"

    lago_api.faults.clear()
    result = extract_table(warehouse, api, INVOICES)
    assert (result.rows_inserted, result.rows_rejected) == (1, 0)
    assert set(rows_by_key(raw_rows(warehouse, INVOICES))) == {r["id"] for r in lago_api.rows["invoices"]}


def test_invoices_reread_a_trailing_window_from_the_stored_cursor(make_settings, lago_api: FakeLagoApi) -> None:
    warehouse = WarehouseResource.from_settings(make_settings("lago_invoice_window"))
    api = LagoApiConnector(lago_api.base_url, TOKEN, per_page=100, reread_days=30, policy=HttpPolicy(**FAST_RETRIES))
    first = extract_table(warehouse, api, INVOICES)
    cursor = first.cursor_after
    assert cursor is not None and first.rows_inserted == len(lago_api.rows["invoices"])

    # an invoice paid late: only updated_at and payment_status change (issuing date inside the window)
    recent = max(lago_api.rows["invoices"], key=lambda r: r["issuing_date"])
    paid = {**recent, "payment_status": 1, "updated_at": cursor["updated_at"] + dt.timedelta(hours=2)}
    added = new_invoice(lago_api)
    lago_api.upsert("invoices", [paid, added])
    second = extract_table(warehouse, api, INVOICES)

    window_start = (cursor["updated_at"] - INVOICES.lookback).date() - dt.timedelta(days=30)
    assert lago_api.requests_to("/invoices")[-1]["issuing_date_from"] == [window_start.isoformat()]
    assert second.rows_received < first.rows_received, "only the trailing window was read"
    assert (second.rows_inserted, second.rows_updated) == (1, 1)
    rows = rows_by_key(raw_rows(warehouse, INVOICES))
    assert len(rows) == len(lago_api.rows["invoices"])
    assert rows[paid["id"]]["payment_status"] == 1 and added["id"] in rows
