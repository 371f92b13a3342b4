"""Keycloak Admin REST connector against a local fake Keycloak serving simulator data (with faults)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pyarrow as pa
import pytest

from orchestration.extract import extract_table
from orchestration.resources.warehouse import WarehouseResource
from orchestration.sources.connectors.database import DuckDBFileConnector
from orchestration.sources.connectors.http import HttpPolicy
from orchestration.sources.connectors.keycloak_api import API_GAPS, KeycloakApiConnector, SnapshotIncompleteError
from orchestration.sources.schemas import KEYCLOAK_TABLES, TABLES_BY_KEY
from tests.fakes.harness import FAST_RETRIES, raw_rows, realm_names, simulated_tables, write_source_db
from tests.fakes.keycloak import FakeKeycloakApi
from tests.fakes.sample import keycloak_tables
from tests.fakes.server import Fault

USERS, ATTRIBUTES, EVENTS = (TABLES_BY_KEY[f"keycloak.{n}"] for n in ("user_entity", "user_attribute", "event_entity"))
TOKEN = "kc-test-token"


def recent_events(tables: dict[str, pa.Table], keep: int = 3000) -> dict[str, pa.Table]:
    """The simulator's tables with only its latest events (the paging logic needs pages, not volume)."""
    events = tables["keycloak.event_entity"].sort_by("event_time")
    return {**tables, "keycloak.event_entity": events.slice(max(0, events.num_rows - keep))}


@pytest.fixture
def keycloak_api() -> Iterator[FakeKeycloakApi]:
    tables = recent_events(simulated_tables())
    with FakeKeycloakApi(tables, realm_names(tables), token=TOKEN, clients={"warehouse": "s3cret"}) as server:
        yield server


@pytest.fixture
def keycloak_api_full() -> Iterator[FakeKeycloakApi]:
    tables = simulated_tables()
    with FakeKeycloakApi(tables, realm_names(tables), token=TOKEN) as server:
        yield server


def connector(server: FakeKeycloakApi, page_size: int = 100, **options: object) -> KeycloakApiConnector:
    options.setdefault("token", TOKEN)
    policy = HttpPolicy(**{**FAST_RETRIES, "read_timeout": 0.3})
    con = KeycloakApiConnector(server.base_url, "saas", page_size=page_size, policy=policy, **options)
    con.client.sleep = lambda seconds: None
    return con


def read_all(con: KeycloakApiConnector) -> dict[str, pa.Table]:
    return {t.name: t_sorted(con.read_table(t)) for t in KEYCLOAK_TABLES}


def t_sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("id", "ascending")])


def new_user(name: str, realm_id: str) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "username": name,
        "email": f"{name}@example.com",
        "email_verified": True,
        "enabled": True,
        "first_name": None,
        "last_name": None,
        "created_timestamp": 1_760_000_000_000,
        "realm_id": realm_id,
        "service_account_client_link": None,
    }


SCENARIOS: dict[str, Callable[[FakeKeycloakApi], list[Fault]]] = {
    "429 with Retry-After": lambda s: [
        Fault("status", "/users", {"first": "100"}, times=2, status=429, retry_after="2"),
        Fault("status", "/events", {"first": "0"}, times=1, status=429, retry_after="1"),
    ],
    "intermittent 500s": lambda s: [
        Fault("status", "/users", {"first": "200"}, times=3, status=500),
        Fault("status", "/events", {}, times=4, status=503),
    ],
    "timeout": lambda s: [
        Fault("timeout", "/users/count", {}, times=1, delay=1.0),
        Fault("timeout", "/events", {}, times=1, delay=1.0),
    ],
    "truncated JSON page": lambda s: [
        Fault("truncate", "/users", {"first": "100"}, times=1),
        Fault("truncate", "/events", {}, times=2),
    ],
    "page changes between reads": lambda s: [
        Fault(
            "mutate",
            "/users",
            {"first": "100"},
            times=1,
            action=lambda: s.add_user(new_user("aaa-new-user", next(iter(s.realms.values())))),
        )
    ],
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_fault_scenario_converges_to_the_fault_free_result(keycloak_api: FakeKeycloakApi, scenario: str) -> None:
    faults = [keycloak_api.add_fault(f) for f in SCENARIOS[scenario](keycloak_api)]
    got = read_all(connector(keycloak_api))
    assert all(f.fired == f.times for f in faults), "every injected fault was served"
    keycloak_api.faults.clear()
    expected = read_all(connector(keycloak_api))
    for name, table in expected.items():
        assert got[name].num_rows == len(set(got[name].column("id").to_pylist())), f"{name}: duplicated rows"
        assert got[name].equals(table), f"{name}: differs from the fault-free read after {scenario}"
    if scenario == "page changes between reads":
        assert "aaa-new-user" in got["user_entity"].column("username").to_pylist()


def test_users_snapshot_that_does_not_add_up_fails_instead_of_recording_false_deletions(
    keycloak_api: FakeKeycloakApi,
) -> None:
    keycloak_api.count_offset = 1  # /users/count keeps promising one user more than any listing returns
    con = connector(keycloak_api, max_passes=2)
    with pytest.raises(SnapshotIncompleteError, match="users/count"):
        con.read_table(USERS)
    assert len(keycloak_api.requests_to("/users/count")) == 4, "two passes, each checked before and after"


def test_events_use_keyset_paging_with_overlap_and_no_duplicates() -> None:
    tables = keycloak_tables(n_users=20, n_events=400)
    realm_id = tables["keycloak.user_entity"].column("realm_id")[0].as_py()
    with FakeKeycloakApi(tables, {"saas": realm_id}, token=TOKEN) as server:
        con = connector(server, page_size=7)  # many events share a millisecond across page boundaries
        got = con.read_table(EVENTS)
        assert t_sorted(got).column("id").equals(t_sorted(tables["keycloak.event_entity"]).column("id"))
        cursor_ms = max(got.column("event_time").to_pylist())
        overlap_from = cursor_ms - int(EVENTS.lookback.total_seconds() * 1000)
        again = connector(server, page_size=7).read_table(EVENTS, ("event_time", overlap_from))
        assert server.requests_to("/events")[-1]["direction"] == ["asc"]
        assert server.requests_to("/events")[-1]["dateFrom"][0].isdigit()
        expected = [e for e in tables["keycloak.event_entity"].to_pylist() if e["event_time"] >= overlap_from]
        assert sorted(again.column("id").to_pylist()) == sorted(e["id"] for e in expected)


def test_older_servers_ignoring_direction_are_read_completely() -> None:
    tables = keycloak_tables(n_users=20, n_events=300)
    realm_id = tables["keycloak.user_entity"].column("realm_id")[0].as_py()
    with FakeKeycloakApi(tables, {"saas": realm_id}, token=TOKEN, legacy_order=True) as server:
        got = connector(server, page_size=25).read_table(EVENTS)
    by_id = sorted(got.to_pylist(), key=lambda r: r["id"])
    assert by_id == sorted(tables["keycloak.event_entity"].to_pylist(), key=lambda r: r["id"])


def test_client_credentials_token_is_refreshed_after_a_401(keycloak_api: FakeKeycloakApi) -> None:
    con = connector(keycloak_api, token=None, client_id="warehouse", client_secret="s3cret")
    first = con.read_table(USERS).num_rows
    keycloak_api.revoke_tokens()  # e.g. the realm's keys rotated: the cached token is refused once
    con._users = None
    assert con.read_table(USERS).num_rows == first


def test_api_and_database_modes_give_identical_raw_tables(make_settings, tmp_path, keycloak_api_full) -> None:
    source = DuckDBFileConnector(write_source_db(simulated_tables(), tmp_path / "keycloak.duckdb", "keycloak"))
    via_db = WarehouseResource.from_settings(make_settings("keycloak_db_mode"))
    via_api = WarehouseResource.from_settings(make_settings("keycloak_api_mode"))
    api = connector(keycloak_api_full)
    for table in KEYCLOAK_TABLES:
        extract_table(via_db, source, table)
        result = extract_table(via_api, api, table)
        assert result.rows_rejected == 0, result.metadata()
        gaps = API_GAPS.get(table.name, {})
        key = [c for c in table.column_names if c not in gaps]  # attribute ids are surrogates: compare the rest

        def comparable(rows: list[dict], key: list[str] = key) -> list[tuple]:
            return sorted(tuple((c, r[c]) for c in key) for r in rows)

        assert comparable(raw_rows(via_api, table)) == comparable(raw_rows(via_db, table)), table.name
    source.close()


def test_deleted_users_are_recorded_by_the_snapshot_diff(make_settings, keycloak_api: FakeKeycloakApi) -> None:
    warehouse = WarehouseResource.from_settings(make_settings("keycloak_deletes"))
    extract_table(warehouse, connector(keycloak_api), USERS)
    gone = sorted(keycloak_api.users, key=lambda u: u["username"])[3]
    keycloak_api.delete_user(gone["id"])
    result = extract_table(warehouse, connector(keycloak_api), USERS)
    assert result.rows_deleted == 1
    rows = {r["id"]: r for r in raw_rows(warehouse, USERS, with_meta=True)}
    assert rows[gone["id"]]["_deleted_at"] is not None
    assert sum(r["_deleted_at"] is not None for r in rows.values()) == 1
