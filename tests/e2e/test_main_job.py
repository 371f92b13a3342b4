"""The README's main job, materialized in-process through Dagster on each engine: the whole graph must run.

Where the integration tests drive each layer directly, this proves the code location wires them together:
simulated sources -> raw -> dbt (tests as checks) -> ml, with every asset materialized and no check failing.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from orchestration.jobs import ALL_ASSETS_JOB_NAME, full_history_run_tags
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import SimulatorSettings

TINY_COMPANY = SimulatorSettings(seed=11, n_customers=200, start_date=dt.date(2025, 10, 1), as_of=dt.date(2026, 10, 20))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def main_job_run(make_settings, dbt_manifest_path):
    settings = make_settings("e2e_main_job", simulator=TINY_COMPANY)
    defs = build_definitions(settings)
    job = defs.resolve_job_def(ALL_ASSETS_JOB_NAME)
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance, tags=full_history_run_tags(settings, job), raise_on_error=False
        )
    return settings, job, result


def test_main_job_succeeds_and_materializes_every_asset(main_job_run) -> None:
    _, job, result = main_job_run
    failed = sorted({event.step_key for event in result.all_events if event.is_step_failure})
    assert result.success, f"failed steps: {failed}"
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    expected = set(job.asset_layer.executable_asset_keys)
    assert expected - materialized == set()


def test_no_blocking_check_fails(main_job_run) -> None:
    _, _, result = main_job_run
    evaluations = [
        event.event_specific_data
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    assert evaluations, "the main job evaluated no asset checks"
    failures = [
        f"{e.asset_key.to_user_string()}:{e.check_name}"
        for e in evaluations
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert failures == []


def test_every_layer_has_data(main_job_run) -> None:
    settings, _, _ = main_job_run
    warehouse = WarehouseResource.from_settings(settings)
    for table in ("raw.lago_customers", "staging.stg_lago__subscriptions", "marts.fct_mrr", "marts.kpi_monthly"):
        (count,) = warehouse.query(f"select count(*) from {table}")[0]
        assert count > 0, f"{table} is empty"
