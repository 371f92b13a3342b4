"""The code location: Definitions load for each warehouse from the prepared manifest (without running dbt),
asset keys and groups follow the layers, and every dbt source is a raw asset of the same graph."""

from __future__ import annotations

import copy
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest

from orchestration.assets.dbt import WAREHOUSE_POOL, build_dbt_assets, source_asset_key
from orchestration.definitions import ManifestMissingError, build_definitions
from orchestration.jobs import ALL_ASSETS_JOB_NAME, DAILY_REFRESH_JOB_NAME, full_history_run_tags
from orchestration.resources.dbt import dbt_environment
from orchestration.schedules import DAILY_REFRESH_SCHEDULE
from orchestration.settings import Settings
from orchestration.sources import schemas
from tests.integration.test_staging import CONTRACT as STAGING_CONTRACT

STAGING_MODELS = tuple(STAGING_CONTRACT)


@pytest.fixture(scope="module")
def manifest(dbt_manifest_path: Path) -> dict:
    return json.loads(dbt_manifest_path.read_text())


@pytest.fixture(scope="module")
def loaded(make_settings, dbt_manifest_path: Path, tmp_path_factory) -> tuple[Settings, dg.Definitions, dg.AssetGraph]:
    # A private copy of the dbt project with the prepared manifest: nothing else touches its files.
    project = tmp_path_factory.mktemp("definitions") / "dbt_project"
    shutil.copytree(dbt_manifest_path.parent.parent, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "target").mkdir()
    shutil.copy2(dbt_manifest_path, project / "target" / "manifest.json")
    settings = replace(make_settings("definitions"), dbt_project_dir=project)
    before = _snapshot(project)
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    # Loading the code location must not run dbt: no file of the project was written or added.
    assert _snapshot(project) == before
    return settings, defs, graph


def _snapshot(directory: Path) -> dict[str, int]:
    return {str(path.relative_to(directory)): path.stat().st_mtime_ns for path in directory.rglob("*")}


def _model_layer(node: dict) -> str:
    return node["config"]["schema"]


def test_dbt_models_and_seeds_are_keyed_and_grouped_by_layer(loaded, manifest) -> None:
    _, _, graph = loaded
    for name in STAGING_MODELS:
        key = dg.AssetKey(["staging", name])
        assert graph.has(key), key
        assert graph.get(key).group_name == "staging"
    nodes = [n for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed")]
    assert {_model_layer(n) for n in nodes} <= {"staging", "intermediate", "marts"}
    for node in nodes:
        key = dg.AssetKey([_model_layer(node), node["name"]])
        assert graph.has(key), key
        assert graph.get(key).group_name == _model_layer(node)


def test_every_dbt_source_is_a_raw_asset_of_the_graph(loaded, manifest) -> None:
    _, _, graph = loaded
    sources = list(manifest["sources"].values())
    assert len(sources) == len(schemas.ALL_TABLES)
    for source in sources:
        key = source_asset_key(source["source_name"], source["name"])
        assert key == dg.AssetKey(["raw", source["identifier"]])
        node = graph.get(key)
        assert node.is_materializable and node.group_name == "raw", key  # a real raw asset, not a stub
    customers = graph.get(dg.AssetKey(["staging", "stg_lago__customers"]))
    assert dg.AssetKey(["raw", "lago_customers"]) in customers.parent_keys
    spend = graph.get(dg.AssetKey(["staging", "stg_litellm__spend_logs"]))
    assert dg.AssetKey(["raw", "litellm_spendlogs"]) in spend.parent_keys


def test_dbt_tests_become_asset_checks(loaded) -> None:
    _, _, graph = loaded
    checks = {(c.asset_key, c.name) for c in graph.asset_check_keys}
    assert (dg.AssetKey(["staging", "stg_lago__customers"]), "unique_stg_lago__customers_customer_id") in checks


def test_jobs_schedule_and_resources(loaded) -> None:
    settings, defs, _ = loaded
    for name in (ALL_ASSETS_JOB_NAME, DAILY_REFRESH_JOB_NAME):
        assert defs.resolve_job_def(name) is not None
    all_job = defs.resolve_job_def(ALL_ASSETS_JOB_NAME)
    assert dg.AssetKey(["staging", "stg_lago__customers"]) in all_job.asset_layer.executable_asset_keys
    schedule = defs.resolve_schedule_def(DAILY_REFRESH_SCHEDULE)
    assert schedule.job_name == DAILY_REFRESH_JOB_NAME
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.cron_schedule == "0 2 * * *"
    dbt = defs.resources["dbt"]
    assert dbt.target == settings.dbt_target == settings.warehouse
    assert defs.resources["warehouse"].engine == settings.warehouse
    # DuckDB (one writer): every step in the run's process; PostgreSQL: a process per step
    expected_executor = "in_process" if settings.warehouse == "duckdb" else "multiprocess"
    assert all_job.executor_def.name == expected_executor


def test_dbt_assets_share_the_warehouse_pool(loaded) -> None:
    _, defs, _ = loaded
    dbt_defs = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.op.name.startswith("dbt_")]
    assert dbt_defs and all(a.op.pool == WAREHOUSE_POOL for a in dbt_defs)


def test_daily_partitioned_models_get_their_own_single_run_factory(make_settings, manifest) -> None:
    settings = make_settings("partitioned")
    tagged = copy.deepcopy(manifest)
    node = tagged["nodes"]["model.saas_metrics.stg_litellm__spend_logs"]
    node["tags"] = [*node["tags"], "daily_partitioned"]
    node["config"]["tags"] = [*node["config"]["tags"], "daily_partitioned"]
    key = dg.AssetKey(["staging", "stg_litellm__spend_logs"])

    # Without any tagged model the partitioned factory is skipped (an empty selection), not an error.
    untagged = copy.deepcopy(manifest)
    for other in untagged["nodes"].values():
        other["tags"] = [t for t in other.get("tags", []) if t != "daily_partitioned"]
    assert len(build_dbt_assets(settings, untagged)) == 1

    plain, partitioned = build_dbt_assets(settings, tagged)
    assert key in partitioned.keys and key not in plain.keys
    assert dg.AssetKey(["staging", "stg_lago__customers"]) in plain.keys
    assert plain.partitions_def is None
    partitions = partitioned.partitions_def
    assert isinstance(partitions, dg.DailyPartitionsDefinition)
    assert partitions.start.date() == settings.simulator.resolved_start()
    assert partitioned.backfill_policy == dg.BackfillPolicy.single_run()
    assert partitioned.op.pool == WAREHOUSE_POOL

    # The jobs become partitioned (a day, or a range backfilled in one run); the schedule runs yesterday's day.
    defs = build_definitions(settings, tagged)
    for name in (ALL_ASSETS_JOB_NAME, DAILY_REFRESH_JOB_NAME):
        job = defs.resolve_job_def(name)
        assert isinstance(job.partitions_def, dg.DailyPartitionsDefinition)
        assert {key, dg.AssetKey(["staging", "stg_lago__customers"])} <= job.asset_layer.executable_asset_keys
    schedule = defs.resolve_schedule_def(DAILY_REFRESH_SCHEDULE)
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    # The main job covers the whole history in one run: first partition .. data as-of date.
    tags = full_history_run_tags(settings, defs.resolve_job_def(ALL_ASSETS_JOB_NAME))
    assert tags == {
        "dagster/asset_partition_range_start": settings.simulator.resolved_start().isoformat(),
        "dagster/asset_partition_range_end": settings.data_as_of().isoformat(),
    }


def test_missing_manifest_names_the_prepare_step(tmp_path: Path) -> None:
    with pytest.raises(ManifestMissingError, match="make manifest"):
        build_definitions(Settings(dbt_project_dir=tmp_path))


def test_dbt_environment_is_restored_after_the_invocation() -> None:
    name, other = "DBT_PG_HOST", "DBT_DUCKDB_PATH"
    saved = os.environ.get(name)
    os.environ.pop(other, None)
    try:
        os.environ[name] = "outer"
        with dbt_environment({name: "inner", other: "/tmp/x.duckdb"}):
            assert os.environ[name] == "inner" and os.environ[other] == "/tmp/x.duckdb"
        assert os.environ[name] == "outer" and other not in os.environ
    finally:
        os.environ.pop(name, None)
        if saved is not None:
            os.environ[name] = saved
