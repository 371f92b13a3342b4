"""What the data-quality checks (GX suites as asset checks) add to a daily run, at demo scale.

    .venv/bin/python bench/bench_checks.py [--customers 2000] [--months 24] [--engine duckdb|postgres]

1. The demo company is simulated to day D-1 and the daily refresh job runs over the whole history once (initial
   load, printed for reference).
2. The as-of date moves to D: the daily refresh job runs for that day (the demo sources asset advances the
   simulator by one day, extraction is incremental, dbt builds, checks run) - this is the measured daily run.
3. From that run's event log: the wall time of the run and of the GX check steps (raw_gx_suites, marts_gx_suites).
   overhead = check steps / (run - check steps); the bar is <= 20%.

The run is in-process (one Python process; GX was imported during the initial load). With the multiprocess executor
every step is a subprocess that loads the code location and check steps import GX: the script measures both in a
fresh interpreter and prints the overhead estimate for that executor as well.
Needs PostgreSQL at BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres) for --engine postgres.

Results (2026-11-21, DuckDB, 2000 customers x 24 months, 2 cores shared with other jobs, before the ML assets):
- daily run 367.4s; GX check steps 27.1s (raw 22.5s incl. 13,323 new spend-log rows, marts 2 x 2.3s)
  -> +8.0% in-process;
- multiprocess estimate (code-location load 35.9s per step, GX import 26.5s per check step, 21 other steps)
  -> +19.6%;
- initial full load (not the bar): 1843.9s, checks 450.3s (3.6M spend-log rows validated once, 6m54s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import dagster as dg
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestration.definitions import build_definitions
from orchestration.jobs import DAILY_REFRESH_JOB_NAME, full_history_run_tags
from orchestration.prepare_manifest import prepare_manifest
from orchestration.settings import PostgresParams, Settings, SimulatorSettings

CHECK_OPS = ("raw_gx_suites", "marts_gx_suites", "ml_gx_suites")  # Dagster may split one into `<op>_2`, ...


def is_check_step(step_key: str) -> bool:
    return any(step_key == op or step_key.startswith(op + "_") for op in CHECK_OPS)


AS_OF = dt.date(2026, 10, 14)  # D-1; the measured daily run is D = 2026-10-15


def step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            seconds[event.step_key] = entry.timestamp - started[event.step_key]
    return seconds


def run_daily_job(settings: Settings, instance: dg.DagsterInstance, full_history: bool) -> tuple[float, dict]:
    defs = build_definitions(settings)
    job = defs.resolve_job_def(DAILY_REFRESH_JOB_NAME)
    kwargs: dict = {"instance": instance, "raise_on_error": False}
    if job.partitions_def is not None:
        if full_history:
            kwargs["tags"] = full_history_run_tags(settings, job)
        else:
            kwargs["partition_key"] = settings.data_as_of().isoformat()
    start = time.perf_counter()
    result = job.execute_in_process(**kwargs)
    wall = time.perf_counter() - start
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        print(f"  run {result.run_id[:8]} FAILED (steps {failed}); timings below are still reported")
    checks = [e for e in result.get_asset_check_evaluations() if e.check_name == "gx_suite"]
    print(f"  gx checks evaluated: {len(checks)}, failed: {sum(not e.passed for e in checks)}")
    return wall, step_seconds(instance, result.run_id)


def fresh_interpreter_seconds(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=SimulatorSettings().n_customers)
    parser.add_argument("--months", type=int, default=SimulatorSettings().months)
    parser.add_argument("--engine", choices=("duckdb", "postgres"), default="duckdb")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="bench_checks_"))
    simulator = SimulatorSettings(n_customers=args.customers, months=args.months, as_of=AS_OF)
    settings = Settings(
        warehouse=args.engine,
        data_dir=data_dir,
        duckdb_path=data_dir / "warehouse.duckdb",
        reports_dir=data_dir / "reports",
        sources_config=data_dir / "sources.yaml",
        simulator=simulator,
    )
    admin = PostgresParams.from_url(
        os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    dbname = f"bench_checks_{uuid.uuid4().hex[:8]}"
    if args.engine == "postgres":
        with psycopg.connect(admin.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        settings = replace(settings, postgres=admin.with_dbname(dbname))
    prepare_manifest(settings)
    print(f"engine {args.engine}, {args.customers} customers, {args.months} months, data in {data_dir}")
    (data_dir / "dagster_home").mkdir()
    try:
        with dg.instance_for_test(temp_dir=str(data_dir / "dagster_home")) as instance:
            wall, steps = run_daily_job(settings, instance, full_history=True)
            checks = sum(seconds for step, seconds in steps.items() if is_check_step(step))
            print(f"initial load to {AS_OF}: {wall:.1f}s, of which GX check steps {checks:.1f}s")

            daily = replace(settings, simulator=replace(simulator, as_of=AS_OF + dt.timedelta(days=1)))
            wall, steps = run_daily_job(daily, instance, full_history=False)
            checks = {step: seconds for step, seconds in steps.items() if is_check_step(step)}
            check_total = sum(checks.values())
            print(f"daily run for {AS_OF + dt.timedelta(days=1)}: {wall:.1f}s wall")
            for step, seconds in sorted(steps.items(), key=lambda kv: -kv[1]):
                print(f"  {step:40s} {seconds:7.1f}s")
            overhead = check_total / (wall - check_total)
            print(f"GX check steps {check_total:.1f}s -> overhead {100 * overhead:.1f}% of the run without them")

        load = fresh_interpreter_seconds(
            "from orchestration.definitions import build_definitions; from orchestration.settings import Settings; "
            f"build_definitions(Settings(dbt_project_dir=__import__('pathlib').Path({str(settings.dbt_project_dir)!r})))"
        )
        gx_import = fresh_interpreter_seconds("import great_expectations")
        # Multiprocess executor: every step is a subprocess loading the code location; check steps import GX too
        # (in this in-process run GX was already imported by the initial load, so the daily run did not pay it).
        other_steps = len(steps) - len(checks)
        with_checks = check_total + len(checks) * (load + gx_import)
        without_checks = wall - check_total + other_steps * load
        print(
            f"multiprocess executor estimate: code-location load {load:.1f}s per step ({other_steps} other steps), "
            f"GX import {gx_import:.1f}s per check step ({len(checks)}) -> overhead "
            f"{100 * with_checks / without_checks:.1f}%"
        )
    finally:
        if args.engine == "postgres":
            with psycopg.connect(admin.conninfo, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


if __name__ == "__main__":
    main()
