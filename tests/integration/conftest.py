"""Integration fixtures shared by tests that need the dbt project."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.prepare_manifest import prepare_manifest
from orchestration.settings import Settings
from tests.integration.simulated_warehouse import build_simulated_warehouse
from tests.reliability.reference import reliability_reference  # noqa: F401  (crash-recovery and idempotency tests)


@pytest.fixture(scope="session")
def dbt_manifest_path() -> Path:
    """Prepare dbt_project/target/manifest.json once per test session (`dbt parse`, as `make manifest` does)."""
    return prepare_manifest(Settings())


@pytest.fixture(scope="session")
def built_warehouse(make_settings) -> Settings:
    """Settings of a warehouse (per engine) with SMALL_COMPANY simulated, extracted to raw and `dbt build`-built.

    Built once per session; read-only for tests. Truth frames: settings.truth_dir/<name>.parquet; per-node dbt
    statuses: tests.integration.simulated_warehouse.dbt_node_statuses(settings) (the build is not asserted here,
    so each test checks its own nodes).
    """
    settings, _ = build_simulated_warehouse(make_settings("built_warehouse"))
    return settings
