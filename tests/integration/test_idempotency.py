"""Idempotency: materializing assets (and a daily partition) a second time leaves every table identical.

Real Dagster materializations of the code location's own assets (demo sources -> raw extraction -> dbt build of the
usage partitions and of every other model) on each engine; every relation of raw/staging/intermediate/marts is
content-hashed (tests/reliability/hashing.py) before and after. Only the extraction state's last-run bookkeeping
(`updated_at`, `run_id`, `rows_loaded` of raw._extract_state) may differ; cursors, `_loaded_at` (unchanged rows are
not rewritten), rejects and every model must not.
"""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.assets.dbt import build_dbt_assets, dbt_resource
from orchestration.assets.raw import build_raw_assets
from orchestration.definitions import load_manifest
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import Settings
from tests.reliability.hashing import content_hashes, differences
from tests.reliability.pipeline import COMPANY, DAY_2

pytestmark = pytest.mark.slow


class Materializer:
    """The code location's raw and dbt assets for `settings`, materialized in process."""

    def __init__(self, settings: Settings) -> None:
        manifest = load_manifest(settings)
        self.raw = build_raw_assets(settings)
        self.models, self.daily = build_dbt_assets(settings, manifest)
        self.resources = {"warehouse": WarehouseResource.from_settings(settings), "dbt": dbt_resource(settings)}
        self.full_history = {
            "dagster/asset_partition_range_start": settings.simulator.resolved_start().isoformat(),
            "dagster/asset_partition_range_end": settings.data_as_of().isoformat(),
        }

    def _run(self, assets: list, **kwargs: object) -> None:
        result = dg.materialize(assets, resources=self.resources, raise_on_error=False, **kwargs)
        failures = [e.message for e in result.all_events if e.is_failure]
        assert result.success, failures

    def everything(self) -> None:
        """One run of every raw and dbt asset over the whole history, as the main job runs them."""
        defs = dg.Definitions(
            assets=[*self.raw, self.models, self.daily],
            resources=self.resources,
            jobs=[dg.define_asset_job("extract_and_transform", selection=dg.AssetSelection.all())],
        )
        result = defs.resolve_job_def("extract_and_transform").execute_in_process(
            tags=self.full_history, raise_on_error=False
        )
        assert result.success, [e.message for e in result.all_events if e.is_failure]

    def day(self, day: str) -> None:
        self._run([self.daily], partition_key=day)


@pytest.fixture(scope="module")
def built(make_settings, dbt_manifest_path) -> tuple[Materializer, WarehouseResource]:
    settings = make_settings("idempotency", simulator=COMPANY, as_of_date=DAY_2)
    materializer = Materializer(settings)
    materializer.everything()
    return materializer, WarehouseResource.from_settings(settings)


def test_materializing_everything_twice_changes_no_table(built) -> None:
    materializer, warehouse = built
    first = content_hashes(warehouse)
    assert {name.split(".")[0] for name in first} >= {"raw", "staging", "intermediate", "marts"}
    assert not first["marts.fct_mrr"].startswith("0:") and not first["marts.fct_usage_daily"].startswith("0:")
    materializer.everything()
    assert differences(first, content_hashes(warehouse)) == {}


def test_materializing_a_partition_twice_changes_no_table(built) -> None:
    materializer, warehouse = built
    before = content_hashes(warehouse)
    materializer.day(DAY_2.isoformat())
    once = content_hashes(warehouse)
    materializer.day(DAY_2.isoformat())
    twice = content_hashes(warehouse)
    assert differences(once, twice) == {}
    # re-processing an unchanged day also equals the state the full-history run left
    assert differences(before, once) == {}
