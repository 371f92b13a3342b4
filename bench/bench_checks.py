"""What the GX data-quality checks add to a daily run's wall time, at demo scale (bar: <= 20 %).

    # once: the demo company up to D-1 (the initial full-history load; not what the bar is about)
    .venv/bin/python bench/bench_checks.py prepare --data-dir DIR [--customers 2000] [--months 24] [--engine duckdb]
    # the bar, on a quiet machine:
    flock /work/coord/cpu.lock .venv/bin/python bench/bench_checks.py measure --data-dir DIR \
        [--repeat 1] [--compare-without] [--bytecode-cache DIR]

`measure` runs the daily refresh job for day D (extract -> raw GX checks -> dbt build -> marts GX checks -> scoring
-> non-blocking GX checks) on a fresh copy of the prepared state, through the project's executor, as a scheduled
run executes (DuckDB: every step in the run's process; PostgreSQL: every step a subprocess that loads the code
location). The checks' cost is read from the run's own event log: the wall time is split between the steps in the
order they finish (each gets the time since the previous step finished: on PostgreSQL starting its Python
subprocess and loading the code location, for a check step importing GX and validating, and the executor's gap
before it). overhead = check steps' share / (run wall - that share). On
DuckDB the executor runs one step at a time, so this is exactly the wall time the checks add; on PostgreSQL two
steps may overlap, so it approximates what the checks add to the critical path. Measured within one run, it does
not drift with the machine's load between runs (this machine is shared: two runs of the same job differ by up to
40 %). `--compare-without` also times the same run with the GX checks left out of the selection (dbt tests stay,
they are part of `dbt build` either way), as a cross-check.

Settings reach the step subprocesses through the environment (DATA_DIR, SIM_*, WAREHOUSE_URL, ...), exactly as a
deployed code location reads them. PostgreSQL (--engine postgres) needs BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres); each copy is a `CREATE DATABASE ... TEMPLATE` of the prepared one.
Uses the prepared dbt manifest (`make manifest`). Results: bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestration.checks import GX_CHECK_NAME
from orchestration.definitions import build_definitions
from orchestration.jobs import DAILY_REFRESH_JOB_NAME, build_daily_refresh_job, full_history_run_tags
from orchestration.settings import PostgresParams, load_settings

AS_OF = dt.date(2026, 10, 14)  # D-1; the measured daily run is D = 2026-10-15
DAY = AS_OF + dt.timedelta(days=1)
WITHOUT_GX_JOB = "daily_refresh_without_gx"
JOB_ENV = "BENCH_CHECKS_JOB"  # which job the step subprocesses rebuild
META = "bench_checks.json"


def is_check_step(step_key: str) -> bool:
    """The GX check ops are `<group>_gx_suites` (Dagster may split one into `<op>_2`, ...)."""
    return "_gx_suites" in step_key


def settings_env(data_dir: Path, meta: dict, as_of: dt.date) -> dict[str, str]:
    """The environment a deployed code location would get for this benchmark's company."""
    env = {
        "WAREHOUSE": meta["engine"],
        "DATA_DIR": str(data_dir),
        "REPORTS_DIR": str(data_dir / "reports"),
        "SOURCES_CONFIG": str(data_dir / "sources.yaml"),  # absent: every system is the demo simulator
        "SIM_CUSTOMERS": str(meta["customers"]),
        "SIM_MONTHS": str(meta["months"]),
        "SIM_AS_OF": as_of.isoformat(),
    }
    if meta["engine"] == "postgres":
        env["WAREHOUSE_URL"] = meta["postgres_url"]
    return env


def bench_definitions() -> dg.Definitions:
    """The code location from the environment, plus the daily job without the GX checks."""
    settings = load_settings()
    defs = build_definitions(settings)
    gx_checks = [key for checks in defs.asset_checks or [] for key in checks.check_keys if key.name == GX_CHECK_NAME]
    daily = build_daily_refresh_job()
    without_gx = dg.define_asset_job(WITHOUT_GX_JOB, selection=daily.selection - dg.AssetSelection.checks(*gx_checks))
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[without_gx]))


def bench_job() -> dg.JobDefinition:
    """Rebuilt by the run's process and, on PostgreSQL, by every step subprocess (see dg.reconstructable)."""
    return bench_definitions().resolve_job_def(os.environ[JOB_ENV])


@dataclass
class StepTimes:
    inside: float  # STEP_START -> end: the step's own work (for a check step: importing GX and validating)
    whole: float  # subprocess launched -> end: plus starting Python and loading the code location (= inside in-process)
    share: float  # previous step's end -> end: its part of the run's wall time (plus the executor's gap before it)


def step_times(instance: dg.DagsterInstance, run_id: str) -> dict[str, StepTimes]:
    """Per step; the `share`s split the run's wall time between the steps in the order they finish (exact for a
    one-step-at-a-time executor; with parallel steps, time overlapped by a step finishing earlier is that step's)."""
    run_start = None
    launched: dict[str, float] = {}
    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.RUN_START:
            run_start = entry.timestamp
        elif event.event_type == dg.DagsterEventType.STEP_WORKER_STARTING:
            launched[event.step_key] = entry.timestamp
        elif event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            ended[event.step_key] = entry.timestamp
    times: dict[str, StepTimes] = {}
    previous_end = run_start if run_start is not None else min(started.values())
    for step, end in sorted(ended.items(), key=lambda kv: kv[1]):
        start = started[step]
        times[step] = StepTimes(end - start, end - launched.get(step, start), end - previous_end)
        previous_end = end
    return times


def _admin_params() -> PostgresParams:
    return PostgresParams.from_url(
        os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )


def _admin_sql(statement: sql.Composable) -> None:
    with psycopg.connect(_admin_params().conninfo, autocommit=True) as conn:
        conn.execute(statement)


def prepare(data_dir: Path, engine: str, customers: int, months: int) -> None:
    """Simulate the company to D-1 and run the daily job over the whole history once (in-process)."""
    data_dir.mkdir(parents=True, exist_ok=False)
    meta = {"engine": engine, "customers": customers, "months": months}
    if engine == "postgres":
        dbname = f"bench_checks_{data_dir.name}".replace("-", "_").lower()[:60]
        _admin_sql(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        meta |= {"postgres_db": dbname, "postgres_url": _admin_params().with_dbname(dbname).url}
    settings = load_settings(settings_env(data_dir, meta, AS_OF))
    job = build_definitions(settings).resolve_job_def(DAILY_REFRESH_JOB_NAME)
    (data_dir / "dagster_home").mkdir()
    start = time.perf_counter()
    with dg.DagsterInstance.from_config(str(data_dir / "dagster_home")) as instance:
        result = job.execute_in_process(
            instance=instance, tags=full_history_run_tags(settings, job), raise_on_error=False
        )
        steps = step_times(instance, result.run_id)
    wall = time.perf_counter() - start
    checks = sum(t.inside for step, t in steps.items() if is_check_step(step))
    print(
        f"initial load to {AS_OF} ({engine}, {customers} customers, {months} months): {wall:.1f}s, success "
        f"{result.success}; GX check steps {checks:.1f}s"
    )
    if not result.success:
        raise SystemExit("the initial load failed: the prepared state is not usable")
    (data_dir / META).write_text(json.dumps(meta))


def _copy(prepared: Path, meta: dict, label: str) -> tuple[Path, dict]:
    work = Path(tempfile.mkdtemp(prefix=f"bench_checks_{label}_"))
    shutil.copytree(prepared, work, dirs_exist_ok=True)
    meta = dict(meta)
    if meta["engine"] == "postgres":
        dbname = f"{meta['postgres_db']}_{label}"[:63]
        _admin_sql(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(dbname)))
        _admin_sql(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(dbname), sql.Identifier(meta["postgres_db"])
            )
        )
        meta |= {"postgres_db": dbname, "postgres_url": _admin_params().with_dbname(dbname).url}
    return work, meta


def _discard(work: Path, meta: dict, prepared_meta: dict) -> None:
    shutil.rmtree(work, ignore_errors=True)
    if meta["engine"] == "postgres" and meta["postgres_db"] != prepared_meta["postgres_db"]:
        _admin_sql(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(meta["postgres_db"])))


def daily_run(prepared: Path, prepared_meta: dict, job_name: str, label: str) -> tuple[float, dict[str, StepTimes]]:
    """One daily run for D, through the project's executor, on a fresh copy of the prepared state."""
    work, meta = _copy(prepared, prepared_meta, label)
    saved = dict(os.environ)
    try:
        os.environ.update(settings_env(work, meta, DAY) | {JOB_ENV: job_name})
        with dg.DagsterInstance.from_config(str(work / "dagster_home")) as instance:
            start = time.perf_counter()
            with dg.execute_job(
                dg.reconstructable(bench_job), instance=instance, tags={"dagster/partition": DAY.isoformat()}
            ) as result:
                wall = time.perf_counter() - start
                if not result.success:
                    failed = [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
                    print(f"  {label}: run FAILED (steps {failed}); its time is not comparable")
                checks = [e for e in result.get_asset_check_evaluations() if e.check_name == GX_CHECK_NAME]
                print(
                    f"  {label}: {wall:.1f}s wall, {len(checks)} GX checks ({sum(not e.passed for e in checks)} failed)"
                )
                return wall, step_times(instance, result.run_id)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        _discard(work, meta, prepared_meta)


def use_bytecode_cache(cache: Path) -> None:
    """Compiled bytecode for every process of the runs, as an installed deployment has it (pip compiles at install).

    This machine sets PYTHONDONTWRITEBYTECODE and the virtualenv has no .pyc files, so without this every step
    subprocess compiles dagster, dbt, pandas, GX... from source. The cache lives in `cache` (PYTHONPYCACHEPREFIX),
    filled once before the runs (not timed); the virtualenv is not touched.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(cache)
    project = Path(__file__).resolve().parent.parent
    sources = [*(p for p in sys.path if p.endswith("site-packages")), str(project / "orchestration")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", *sources], check=False)


def measure(prepared: Path, repeat: int, compare_without: bool) -> None:
    """The daily run with the GX checks, `repeat` times; the checks' share is read from each run's own event log."""
    meta = json.loads((prepared / META).read_text())
    print(
        f"daily run for {DAY}: {meta['engine']}, {meta['customers']} customers, {meta['months']} months; "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )
    overheads = []
    for i in range(repeat):
        wall, steps = daily_run(prepared, meta, DAILY_REFRESH_JOB_NAME, f"with_gx_{i}")
        checks = {step: t for step, t in steps.items() if is_check_step(step)}
        checks_share = sum(t.share for t in checks.values())
        overheads.append(checks_share / (wall - checks_share))
        print(
            f"  run {i + 1}: {wall:.1f}s wall, of which GX check steps {checks_share:.1f}s -> overhead "
            f"{100 * overheads[-1]:+.1f}% of the run without them"
        )
        print(
            "    check steps (inside / launch -> done / share of the wall): "
            + ", ".join(f"{k} {t.inside:.1f}/{t.whole:.1f}/{t.share:.1f}s" for k, t in sorted(checks.items()))
        )
        others = [t for step, t in steps.items() if step not in checks]
        print(
            f"    other steps: {len(others)}, share of the wall {sum(t.share for t in others):.1f}s; "
            f"{sum(t.whole - t.inside for t in others) / len(others):.1f}s each to start a subprocess and load the "
            "code location"
        )
        for step, t in sorted(steps.items(), key=lambda kv: -kv[1].share)[:10]:
            print(f"    {step:44s} {t.inside:6.1f}s inside {t.whole:6.1f}s launch -> done {t.share:6.1f}s share")
        if compare_without:
            without, _ = daily_run(prepared, meta, WITHOUT_GX_JOB, f"without_gx_{i}")
            print(
                f"  A/B: the same run without the GX checks took {without:.1f}s -> {100 * (wall / without - 1):+.1f}%"
            )
    print(
        f"overhead of the GX checks: {', '.join(f'{100 * o:+.1f}%' for o in overheads)}; "
        f"load average after: {os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("phase", choices=("prepare", "measure"))
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--engine", choices=("duckdb", "postgres"), default="duckdb")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--compare-without", action="store_true", help="also time each run without the GX checks")
    parser.add_argument(
        "--bytecode-cache",
        type=Path,
        help="measure with compiled bytecode kept in this directory (see use_bytecode_cache)",
    )
    args = parser.parse_args()
    if args.phase == "prepare":
        prepare(args.data_dir.resolve(), args.engine, args.customers, args.months)
        return
    if args.bytecode_cache:
        use_bytecode_cache(args.bytecode_cache.resolve())
    measure(args.data_dir.resolve(), args.repeat, args.compare_without)


if __name__ == "__main__":
    main()
