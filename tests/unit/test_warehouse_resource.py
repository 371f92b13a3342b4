"""The PostgreSQL password reaches the warehouse resource as a Dagster EnvVar, never as a literal in its config."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._core.storage.defs_state.base import set_defs_state_storage

from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import WAREHOUSE_PASSWORD_ENV, load_settings

URL = "postgresql://analyst@db.example.com:5433/warehouse"
PASSWORD = "s3cret p@ss/word"


def test_password_from_the_environment_is_an_env_var_in_the_resource_config(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"WAREHOUSE": "postgres", "WAREHOUSE_URL": URL, WAREHOUSE_PASSWORD_ENV: PASSWORD}
    monkeypatch.setenv(WAREHOUSE_PASSWORD_ENV, PASSWORD)
    settings = load_settings(env)
    assert settings.postgres.password == PASSWORD  # dbt's profile still gets it (DBT_PG_PASSWORD)
    resource = WarehouseResource.from_settings(settings)

    # no state storage: an earlier test's temporary instance (same xdist worker) may be left as the current one
    with set_defs_state_storage(None):
        snap = RepositorySnap.from_def(dg.Definitions(resources={"warehouse": resource}).get_repository_def())
    [warehouse] = snap.resources
    assert PASSWORD not in repr(warehouse) and "s3cret" not in repr(warehouse)
    assert warehouse.configured_values["postgres_password"].name == WAREHOUSE_PASSWORD_ENV
    assert warehouse.configured_values["postgres_url"] == f'"{URL}"'
    # outside a run the resource resolves the variable itself; the drivers get it URL-encoded
    assert (
        resource.postgres_connection_url == "postgresql://analyst:s3cret%20p%40ss%2Fword@db.example.com:5433/warehouse"
    )


def test_a_password_inside_warehouse_url_is_refused() -> None:
    with pytest.raises(ValueError, match=WAREHOUSE_PASSWORD_ENV):
        load_settings({"WAREHOUSE": "postgres", "WAREHOUSE_URL": "postgresql://analyst:pw@db.example.com/warehouse"})


def test_without_a_password_the_url_is_used_as_is() -> None:
    resource = WarehouseResource.from_settings(load_settings({"WAREHOUSE": "postgres", "WAREHOUSE_URL": URL}))
    assert resource.postgres_password == "" and resource.postgres_connection_url == URL
