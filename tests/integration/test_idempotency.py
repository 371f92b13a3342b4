"""Idempotency: materializing assets (and a daily partition) a second time leaves every table identical.

Starts from the reference warehouse (tests/reliability/reference.py: two days extracted and built) and
materializes, with Dagster in process, the code location's own assets again: every raw asset (database-mode
sources, real clock), the daily-partitioned dbt models for the day (twice) and every other dbt model. Every relation
of raw/staging/intermediate/marts is content-hashed (tests/reliability/hashing.py) before and after each step. Only
raw._extract_state's last-run bookkeeping (`updated_at`, `run_id`, `rows_loaded`) may differ; cursors,
`_loaded_at` (unchanged rows are not rewritten), rejects and every model must not.
"""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.assets.dbt import build_dbt_assets
from orchestration.assets.raw import build_raw_assets
from orchestration.definitions import load_manifest
from orchestration.resources.dbt import dbt_resource
from orchestration.resources.warehouse import WarehouseResource
from tests.reliability.hashing import content_hashes, differences
from tests.reliability.pipeline import DAY_2
from tests.reliability.reference import Reference

pytestmark = pytest.mark.slow


def materialize(assets: list, resources: dict, **kwargs: object) -> None:
    result = dg.materialize(assets, resources=resources, raise_on_error=False, **kwargs)
    assert result.success, [e.message for e in result.all_events if e.is_failure]


def test_materializing_every_asset_and_a_partition_again_changes_no_table(
    reliability_reference: Reference, dbt_manifest_path
) -> None:
    settings = reliability_reference.after_day_2
    warehouse = WarehouseResource.from_settings(settings)
    raw_assets = build_raw_assets(settings)
    models, daily = build_dbt_assets(settings, load_manifest(settings))
    resources = {"warehouse": warehouse, "dbt": dbt_resource(settings)}
    expected = content_hashes(warehouse)
    assert expected == reliability_reference.hashes_after_day_2
    assert not expected["marts.fct_mrr"].startswith("0:") and not expected["marts.fct_usage_daily"].startswith("0:")

    materialize(raw_assets, resources)
    assert differences(expected, content_hashes(warehouse)) == {}, "raw assets"
    for attempt in (1, 2):
        materialize([daily], resources, partition_key=DAY_2.isoformat())
        assert differences(expected, content_hashes(warehouse)) == {}, f"partition {DAY_2}, run {attempt}"
    materialize([models], resources)
    assert differences(expected, content_hashes(warehouse)) == {}, "dbt models"
