"""Shared fixtures: one test session runs every warehouse test on DuckDB and on PostgreSQL.

`engine` is a session-scoped parametrized fixture, so pytest groups the tests per engine.
PostgreSQL gets a fresh database per session (and per `make_settings` name), all dropped at
the end. Without a reachable server the Postgres half is skipped with a message naming
TEST_POSTGRES_URL, except under CI=true where an unreachable server fails the run.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from orchestration.settings import PostgresParams, Settings, SimulatorSettings

DEFAULT_TEST_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ENGINES = ("duckdb", "postgres")


def _admin_params() -> PostgresParams:
    return PostgresParams.from_url(os.environ.get("TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL))


def _postgres_unreachable_reason() -> str | None:
    params = _admin_params()
    try:
        with psycopg.connect(params.conninfo, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return (
            f"PostgreSQL at {params.host}:{params.port} is not reachable ({str(exc).strip().splitlines()[0]}); "
            "set TEST_POSTGRES_URL=postgresql://user:password@host:port/postgres to run the Postgres half"
        )


class PostgresDatabases:
    """Creates uniquely named databases for this session and drops them at the end."""

    def __init__(self) -> None:
        self.admin = _admin_params()
        self.prefix = f"smw_test_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []

    def create(self, name: str) -> PostgresParams:
        dbname = f"{self.prefix}_{re.sub(r'[^a-z0-9_]', '_', name.lower())}"[:63]
        with psycopg.connect(self.admin.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        self.created.append(dbname)
        return self.admin.with_dbname(dbname)

    def drop_all(self) -> None:
        with psycopg.connect(self.admin.conninfo, autocommit=True) as conn:
            for dbname in self.created:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    reason = _postgres_unreachable_reason()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true requires PostgreSQL: {reason}", pytrace=False)
        pytest.skip(reason)
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The warehouse engine under test; Postgres tests are skipped/failed per the policy above."""
    if request.param == "postgres":
        request.getfixturevalue("postgres_databases")
    return request.param


@pytest.fixture(scope="session")
def make_settings(
    engine: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Callable[..., Settings]:
    """Factory of isolated `Settings`: own data dir, own DuckDB file or own Postgres database."""

    def factory(name: str, *, simulator: SimulatorSettings | None = None, **overrides: object) -> Settings:
        data_dir: Path = tmp_path_factory.mktemp(f"{engine}_{name}")
        settings = Settings(
            warehouse=engine,
            data_dir=data_dir,
            duckdb_path=data_dir / "warehouse.duckdb",
            reports_dir=data_dir / "reports",
            sources_config=data_dir / "sources.yaml",
            reports_config=data_dir / "reports.yaml",
            simulator=simulator or SMALL_COMPANY,
        )
        if engine == "postgres":
            settings = replace(settings, postgres=request.getfixturevalue("postgres_databases").create(name))
        return replace(settings, **overrides) if overrides else settings

    return factory


# A small simulated company: fast enough for every test, large enough to show each lifecycle.
SMALL_COMPANY = SimulatorSettings(
    seed=7,
    n_customers=300,
    start_date=dt.date(2025, 9, 1),
    as_of=dt.date(2026, 10, 15),  # mid-month: the last month is month-to-date
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `pytest -n 2 --dist loadgroup` (the Makefile's test command) every engine's tests go to one worker:
    the session-scoped warehouses of an engine are then built once, and the two engines run side by side.
    Runs before xdist's own hook, which reads the groups."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        engine = callspec.params.get("engine") if callspec else None
        if engine in ENGINES:
            item.add_marker(pytest.mark.xdist_group(engine))
