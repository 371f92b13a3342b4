"""sources.yaml api/files modes: parsing, secrets from the environment, and raw assets materialized through them."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from orchestration.assets.raw import build_raw_assets, raw_asset_key
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import PROJECT_ROOT
from orchestration.sources.config import load_sources_config
from orchestration.sources.connectors.database import DuckDBFileConnector
from orchestration.sources.connectors.files import FileDropConnector
from orchestration.sources.connectors.keycloak_api import KeycloakApiConnector
from orchestration.sources.connectors.lago_api import LagoApiConnector
from orchestration.sources.schemas import TABLES_BY_KEY
from tests.fakes.harness import raw_rows, simulated_tables, write_source_db
from tests.fakes.lago import FakeLagoApi
from tests.fakes.server import Fault

INVOICES, INVOICE_SUBSCRIPTIONS = TABLES_BY_KEY["lago.invoices"], TABLES_BY_KEY["lago.invoice_subscriptions"]


def test_the_example_config_is_complete_and_valid(monkeypatch, tmp_path: Path) -> None:
    configs = load_sources_config(PROJECT_ROOT / "sources.yaml.example")
    assert {s: c.mode for s, c in configs.items()} == {"lago": "api", "keycloak": "api", "litellm": "database"}
    monkeypatch.setenv("LAGO_API_KEY", "key-from-env")
    monkeypatch.setenv("KEYCLOAK_CLIENT_SECRET", "secret-from-env")
    lago = configs["lago"].connector(None, INVOICES)  # api mode needs no Settings
    assert isinstance(lago, LagoApiConnector) and lago.client.base_url == "https://lago.example.com/api/v1"
    assert lago.client.session.auth.token == "key-from-env"
    assert lago.client.policy.max_attempts == 8 and lago.reread_days == 60
    keycloak = configs["keycloak"].connector(None)
    assert isinstance(keycloak, KeycloakApiConnector)
    assert keycloak.client.base_url == "https://sso.example.com/admin/realms/saas"


def test_missing_secret_names_the_variable(monkeypatch) -> None:
    monkeypatch.delenv("LAGO_API_KEY", raising=False)
    config = load_sources_config(PROJECT_ROOT / "sources.yaml.example")["lago"]
    with pytest.raises(KeyError, match="LAGO_API_KEY"):
        config.connector(None, INVOICES)


def test_api_mode_sends_entities_without_an_endpoint_to_the_fallback_database(monkeypatch, tmp_path: Path) -> None:
    source = write_source_db(simulated_tables(), tmp_path / "lago.duckdb", "lago")
    path = tmp_path / "sources.yaml"
    path.write_text(f"sources:\n  lago: {{mode: api, url: http://x, token_env: T, fallback_url: {source}}}\n")
    monkeypatch.setenv("T", "t")
    config = load_sources_config(path)["lago"]
    fallback = config.connector(None, INVOICE_SUBSCRIPTIONS)
    assert isinstance(fallback, DuckDBFileConnector)
    fallback.close()
    assert isinstance(config.connector(None, INVOICES), LagoApiConnector)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("lago: {mode: api, url: http://x}", "token_env"),
        ("keycloak: {mode: api, url: http://x, token_env: T}", "realm"),
        ("keycloak: {mode: api, url: http://x, realm: r}", "client_id"),
        ("litellm: {mode: api, url: http://x}", "no api mode"),
        ("lago: {mode: api, url: http://x, token_env: T, page_size: 5}", "unknown option.*page_size"),
        ("lago: {mode: api, url: http://x, token_env: T, http: {timeout: 5}}", "unknown http settings"),
        ("lago: {mode: api, token_env: T}", "needs a `url:`"),
        ("lago: {mode: files}", "landing"),
    ],
)
def test_invalid_configs_fail_at_load_naming_the_key(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(f"sources:\n  {entry}\n")
    with pytest.raises(ValueError, match=message):
        load_sources_config(path)


def test_files_mode_reads_the_landing_folder(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(f"sources:\n  lago: {{mode: files, landing: {tmp_path / 'in'}, archive: {tmp_path / 'done'}}}\n")
    connector = load_sources_config(path)["lago"].connector(None)
    assert isinstance(connector, FileDropConnector)
    assert (connector.landing, connector.archive) == (tmp_path / "in", tmp_path / "done")
    assert connector.quarantine == tmp_path / "in" / "_quarantine"


def test_raw_asset_in_api_mode_fails_on_a_dead_page_and_the_next_run_resumes(
    make_settings, monkeypatch, tmp_path: Path
) -> None:
    tables = simulated_tables()
    with FakeLagoApi(tables, token="asset-token") as lago:
        config = tmp_path / "sources.yaml"
        config.write_text(
            "sources:\n"
            f"  lago: {{mode: api, url: '{lago.base_url}', token_env: TEST_LAGO_TOKEN, per_page: 20,"
            " http: {max_attempts: 3, backoff_initial: 0.01, backoff_max: 0.02}}\n"
            f"  keycloak: {{mode: files, landing: {tmp_path / 'kc'}}}\n"
            f"  litellm: {{mode: files, landing: {tmp_path / 'litellm'}}}\n"
        )
        monkeypatch.setenv("TEST_LAGO_TOKEN", "asset-token")
        settings = make_settings("raw_api_assets", sources_config=config)
        warehouse = WarehouseResource.from_settings(settings)
        assets = build_raw_assets(settings)
        selection = [raw_asset_key(INVOICES)]

        lago.add_fault(Fault("status", "/invoices", {"page": "4"}, times=100, status=503))
        failed = dg.materialize(assets, selection=selection, resources={"warehouse": warehouse}, raise_on_error=False)
        assert not failed.success
        [failure] = [e for e in failed.all_events if e.is_step_failure]
        message = str(failure.step_failure_data.error)
        assert "/api/v1/invoices?" in message and "(page 4)" in message and "3 attempt(s)" in message

        lago.faults.clear()
        done = dg.materialize(assets, selection=selection, resources={"warehouse": warehouse})
        assert done.success
        assert len(raw_rows(warehouse, INVOICES)) == tables["lago.invoices"].num_rows
