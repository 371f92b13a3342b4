"""dbt runs inside the Dagster process (orchestration/resources/dbt.py): the same events and errors as the dbt CLI,
the parse reused between invocations, and no database left open behind it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from orchestration.assets.dbt import build_dbt_assets
from orchestration.dbt_args import build_args
from orchestration.resources.dbt import dbt_environment, dbt_resource
from orchestration.settings import Settings

pytestmark = pytest.mark.slow


def _start(settings: Settings, args: list[str], target: Path, raise_on_error: bool = True):
    """Start a dbt invocation with the project-wide vars, as the assets do (call inside dbt_environment)."""
    return dbt_resource(settings).cli(
        [*args, *build_args(settings.dbt_vars())[1:]], target_path=target, raise_on_error=raise_on_error
    )


def _run(settings: Settings, args: list[str], target: Path, raise_on_error: bool = True):
    with dbt_environment(settings.dbt_env()):
        invocation = _start(settings, args, target, raise_on_error)
        events = list(invocation.stream_raw_events())
    return invocation, [event.raw_event for event in events]


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_a_second_invocation_in_the_process_reuses_the_parse_and_writes_its_results(make_settings) -> None:
    settings = make_settings("in_process_parse")
    first, _ = _run(settings, ["seed"], settings.data_dir / "dbt_target" / "first")
    second, events = _run(settings, ["seed"], settings.data_dir / "dbt_target" / "second")
    assert first.is_successful() and second.is_successful()
    names = {event["info"]["name"] for event in events}
    assert "UnableToPartialParse" not in names, "the second invocation parsed the project again"
    assert "LogSeedResult" in names  # the result events dagster-dbt turns into materializations
    results = json.loads((second.target_path / "run_results.json").read_text())["results"]
    assert [r["unique_id"] for r in results] == ["seed.saas_metrics.fx_rates_monthly"]
    assert results[0]["status"] == "success"


def test_a_failing_model_fails_the_step_with_dbt_s_error_naming_the_model(make_settings, dbt_manifest_path) -> None:
    settings = make_settings("in_process_failure")  # nothing extracted: the staging views have no raw tables
    result = dg.materialize(
        build_dbt_assets(settings, json.loads(dbt_manifest_path.read_text())),
        selection=dg.AssetSelection.assets(dg.AssetKey(["staging", "stg_lago__customers"])),
        resources={"dbt": dbt_resource(settings)},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(event for event in result.all_events if event.is_step_failure)
    message = failure.step_failure_data.error.message
    assert DagsterDbtCliRuntimeError.__name__ in failure.step_failure_data.error.cls_name
    assert "stg_lago__customers" in message and "lago_customers" in message
    invocation, _ = _run(settings, ["run", "--select", "stg_lago__customers"], settings.data_dir / "t", False)
    assert invocation.process.wait() == 1 and not invocation.is_successful()


def test_the_duckdb_file_is_free_for_other_processes_after_an_invocation(make_settings) -> None:
    settings = make_settings("in_process_lock")
    if settings.warehouse != "duckdb":
        pytest.skip("a DuckDB file lock")
    invocation, _ = _run(settings, ["seed"], settings.data_dir / "dbt_target" / "seed")
    assert invocation.is_successful()
    writer = (
        "import duckdb, sys; connection = duckdb.connect(sys.argv[1]);"
        "print(connection.execute('select count(*) from staging.fx_rates_monthly').fetchall()[0][0]);"
        "connection.execute('create table main.written_by_another_process as select 1 as x')"
    )
    other = subprocess.run(
        [sys.executable, "-c", writer, str(settings.duckdb_path)], capture_output=True, text=True, timeout=60
    )
    assert other.returncode == 0, other.stderr
    assert int(other.stdout) > 0


def test_an_interrupt_cancels_the_running_query_and_ends_the_invocation(make_settings) -> None:
    """What Dagster does when a run is terminated: DbtCliInvocation forwards SIGINT to the dbt "process"."""
    settings = make_settings("in_process_interrupt")
    endless = {
        "duckdb": "select sum(hash(a.range * b.range)) as s from range(200000) a, range(2000000) b",
        "postgres": "select pg_sleep(600) as s",
    }[settings.warehouse]
    with dbt_environment(settings.dbt_env()):
        invocation = _start(
            settings, ["show", "--inline", endless], settings.data_dir / "dbt_target" / "interrupted", False
        )
        log = invocation.target_path / "dbt.log"
        deadline = time.monotonic() + 120
        while "On sql_operation.saas_metrics.inline_query" not in _text(log):  # dbt logs the query it sends
            assert time.monotonic() < deadline and invocation.process.returncode is None, _text(log)[-3000:]
            time.sleep(0.5)
        time.sleep(1)
        assert invocation.process.returncode is None, "the query ended by itself"
        started = time.monotonic()
        invocation.process.send_signal(signal.SIGINT)
        returncode = invocation.process.wait(timeout=60)
    assert returncode != 0
    assert time.monotonic() - started < 30
    assert not invocation.is_successful()
