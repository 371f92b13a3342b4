"""Benchmark of the usage models: full refresh vs a one-day incremental run of the daily-partitioned usage models,
and the full build of the usage, engagement, cost/margin, KPI and feature marts, on synthetic source rows
(bench/synthetic_usage.py).

    .venv/bin/python bench/bench_usage.py                                  # DuckDB, 10M requests over 12 months
    .venv/bin/python bench/bench_usage.py --engine postgres

How a step is timed: each step is one dbt invocation made the way the Dagster assets make it
(orchestration/assets/dbt.py): a fresh DbtCliResource in a fresh process that has already imported the code
location's modules (as a Dagster step process has), DbtCliResource.cli() with the project-wide --vars of
build_args() and the per-run settings (as-of date, partition window) in the environment, and the project's parse
prepared beforehand (`dbt parse` with the same vars, as `make manifest` does; dagster-dbt copies it into each
invocation's target dir). "wall" is what a user waits for: dagster-dbt's `dbt --version` probe and in-process
adapter set-up, then the dbt process (Python start-up, partial parse, SQL, artifacts). "models" is the SQL part:
the sum of the models' execution times in run_results.json.

Steps, after loading `days` days of spend logs (+ customers, users, logins) and building everything upstream:
1) `dbt run --full-refresh --select tag:daily_partitioned` (the usage-event models),
2) `dbt run --select <the other usage/engagement/KPI/feature marts>`,
then one more day of spend logs is appended and
3) the daily run for that day: `dbt run --select tag:daily_partitioned`, partition window [day, day + 1),
4) `dbt test --select tag:daily_partitioned`: the data tests `dbt build` adds to 3) in the Dagster job,
and, for comparison, 3) again with the per-run settings passed as --vars (as before: dbt then re-parses the project).
Bars (issue 4): 3) <= 10% of 1) at >= 10M rows on DuckDB; 1) + 2) <= 120 s on DuckDB; PostgreSQL within 5x.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synthetic_usage import SyntheticScale, append_spend_logs, load_synthetic_raw, spend_log_batches
from orchestration.assets.dbt import daily_partition_env, dbt_environment, dbt_resource
from orchestration.dbt_args import DAILY_PARTITIONED_TAG, build_args, parse_args, partition_vars, vars_arg
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import PROJECT_ROOT, Settings, load_settings

PARTITIONED = ["--select", f"tag:{DAILY_PARTITIONED_TAG}"]
MART_MODELS = (
    "int_users__activity_daily",
    "dim_users",
    "service_performance_daily",
    "usage_heatmap",
    "cost_by_model_monthly",
    "engagement_daily",
    "customer_margin_monthly",
    "acquisition_monthly",
    "user_segments",
    "kpi_monthly",
    "customer_features_monthly",
)


@dataclass(frozen=True)
class StepTime:
    wall: float  # the whole invocation, as a user waits for it
    version_probe: float  # dagster-dbt's `dbt --version` subprocess (once per resource instance)
    adapter_setup: float  # dagster-dbt's in-process dbt adapter set-up (every cli() call)
    models: float  # SQL: sum of the models' execution times
    tests: float  # sum of the data tests' execution times
    model_times: dict[str, float]

    @property
    def dbt_process(self) -> float:
        return self.wall - self.version_probe - self.adapter_setup


def bench_settings(engine: str) -> Settings:
    data_dir = PROJECT_ROOT / ".data" / f"bench_usage_{engine}"
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = replace(load_settings(), warehouse=engine, data_dir=data_dir, duckdb_path=data_dir / "warehouse.duckdb")
    if engine == "duckdb":
        settings.duckdb_path.unlink(missing_ok=True)
    else:
        settings = replace(settings, postgres=settings.postgres.with_dbname("bench_usage"))
        admin = settings.postgres.with_dbname("postgres")
        with psycopg.connect(admin.conninfo, autocommit=True) as conn:
            name = sql.Identifier(settings.postgres.dbname)
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    return settings


def _invoke(settings: Settings, args: list[str], env: dict[str, str], target: Path) -> StepTime:
    """One dbt invocation as the Dagster asset makes it (runs in a fresh process, see `invoke`)."""
    from dagster_dbt import DbtCliResource

    adapter_seconds = 0.0
    original = DbtCliResource._initialize_dbt_core_adapter

    def timed_adapter_setup(self: DbtCliResource, cli_args: list[str]) -> object:
        nonlocal adapter_seconds
        started = time.perf_counter()
        try:
            return original(self, cli_args)
        finally:
            adapter_seconds += time.perf_counter() - started

    DbtCliResource._initialize_dbt_core_adapter = timed_adapter_setup  # measuring only: same call, timed
    started = time.perf_counter()
    resource = dbt_resource(settings)
    probe_started = time.perf_counter()
    resource._cli_version  # noqa: B018 (the probe cli() would run first; timed on its own here)
    probe = time.perf_counter() - probe_started
    # the prepared parse lives in `target`'s parent (see prepare_parse); dagster-dbt copies it from DBT_TARGET_PATH
    with dbt_environment({**env, "DBT_TARGET_PATH": str(target.parent / "parse")}):
        invocation = resource.cli(args, target_path=target, raise_on_error=False).wait()
    wall = time.perf_counter() - started
    if not invocation.is_successful():
        log = (target / "dbt.log").read_text()[-5000:] if (target / "dbt.log").exists() else ""
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{log}")
    run_results = target / "run_results.json"  # `dbt parse` writes none
    results = json.loads(run_results.read_text())["results"] if run_results.exists() else []
    times = {r["unique_id"]: r["execution_time"] for r in results}
    model_times = {uid.split(".")[-1]: t for uid, t in times.items() if uid.startswith("model.")}
    tests = sum(t for uid, t in times.items() if uid.startswith(("test.", "unit_test.")))
    return StepTime(wall, probe, adapter_seconds, sum(model_times.values()), tests, model_times)


def invoke(settings: Settings, name: str, args: list[str], env: dict[str, str]) -> StepTime:
    """Run `_invoke` in a fresh process: each step pays the first-call costs a Dagster step process pays."""
    target = settings.data_dir / "dbt_target" / name
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(_invoke, settings, args, env, target).result()


def prepare_parse(settings: Settings) -> None:
    """`dbt parse` with the runs' vars and target into dbt_target/parse, as `make manifest` prepares the project."""
    invoke(settings, "parse", parse_args(settings.dbt_vars()), settings.dbt_env())


def one_day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The time window of the daily partition `day` (UTC), as Dagster gives it to the asset."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def one_day_env(settings: Settings, day: dt.date) -> dict[str, str]:
    """The environment the Dagster asset sets for the daily partition `day` (orchestration/assets/dbt.py)."""
    return daily_partition_env(settings, *one_day_window(day))


def run_args(settings: Settings, *extra: str, command: str = "run") -> list[str]:
    """The asset's arguments (build_args: project-wide vars) with the bench's command and selection."""
    return [command, *build_args(settings.dbt_vars())[1:], *extra]


def report(engine: str, steps: dict[str, StepTime], full: StepTime, marts: StepTime, daily: StepTime) -> None:
    print(f"[{engine}] {'step':<44} {'wall s':>7} {'probe':>6} {'adapter':>7} {'dbt':>6} {'models':>7} {'tests':>6}")
    for name, step in steps.items():
        print(
            f"[{engine}] {name:<44} {step.wall:7.1f} {step.version_probe:6.1f} {step.adapter_setup:7.1f} "
            f"{step.dbt_process:6.1f} {step.models:7.1f} {step.tests:6.1f}"
        )
    print(
        f"[{engine}] full build of the usage marts (1 + 2): {full.wall + marts.wall:.1f} s wall, "
        f"{full.models + marts.models:.1f} s models (bar: <= 120 s on DuckDB)"
    )
    print(
        f"[{engine}] one-day run / full refresh (3 / 1): {daily.wall / full.wall:.1%} wall, "
        f"{daily.models / full.models:.1%} models (bar: <= 10%)"
    )
    for name, step in steps.items():
        slowest = sorted(step.model_times.items(), key=lambda item: -item[1])[:6]
        if slowest:
            print(f"[{engine}]   {name}: " + ", ".join(f"{model} {seconds:.1f}" for model, seconds in slowest))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("duckdb", "postgres"), default="duckdb")
    parser.add_argument("--requests", type=int, default=10_000_000, help="spend-log rows over the history")
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365, help="days of history before the incremental day")
    args = parser.parse_args()

    settings = bench_settings(args.engine)
    total_days = args.days + 1
    last_day = dt.date(2026, 10, 14)
    scale = SyntheticScale(
        requests=args.requests * total_days // args.days,
        customers=args.customers,
        end_date=last_day,
        days=total_days,
        duplicate_share=0.001 if args.engine == "duckdb" else 0.0,  # Postgres raw has a primary key
    )
    settings = replace(settings, as_of_date=last_day - dt.timedelta(days=1))
    warehouse = WarehouseResource.from_settings(settings)

    started = time.perf_counter()
    rows = load_synthetic_raw(warehouse, scale, spend_log_days=args.days)
    print(
        f"[{args.engine}] loaded {rows:,} spend-log rows over {args.days} days in {time.perf_counter() - started:.1f} s"
    )

    if args.engine == "postgres":
        # planner statistics of the freshly loaded raw tables, as autovacuum would gather them after a bulk load
        # (this test server runs with autovacuum off)
        warehouse.execute("ANALYZE")
    env = settings.dbt_env()
    prepare_parse(settings)
    # one argument per selection (space-separated selectors): the dbt CLI takes no further positional values
    excluded = ["--exclude", " ".join([f"tag:{DAILY_PARTITIONED_TAG}+", *(f"{m}+" for m in MART_MODELS)])]
    invoke(settings, "seed", run_args(settings, command="seed"), env)
    invoke(settings, "upstream", run_args(settings, *excluded), env)  # staging + revenue (small synthetic billing)

    full = invoke(settings, "full_refresh", run_args(settings, "--full-refresh", *PARTITIONED), env)
    marts = invoke(settings, "marts", run_args(settings, "--select", " ".join(MART_MODELS)), env)
    settings = replace(settings, as_of_date=last_day)
    for batch in spend_log_batches(scale, first_day=last_day, days=1):
        append_spend_logs(warehouse, batch)
    daily_env = one_day_env(settings, last_day)
    daily = invoke(settings, "one_day", run_args(settings, *PARTITIONED), daily_env)
    daily_tests = invoke(settings, "one_day_tests", run_args(settings, *PARTITIONED, command="test"), daily_env)
    # for comparison: the same run with the per-run settings in --vars (how they were passed before), which makes
    # dbt re-parse the whole project on every run
    window = partition_vars(*one_day_window(last_day))
    per_run_vars = {**settings.dbt_vars(), "as_of_date": last_day.isoformat(), **window}
    daily_as_vars = invoke(
        settings, "one_day_vars", ["run", "--vars", vars_arg(per_run_vars), *PARTITIONED], settings.dbt_env()
    )
    steps = {
        "1 full refresh, partitioned usage models": full,
        "2 other usage marts": marts,
        "3 one-day run, partitioned usage models": daily,
        "4 data tests of 3 (dbt build adds them)": daily_tests,
        "3 again, per-run settings as --vars (before)": daily_as_vars,
    }
    report(args.engine, steps, full, marts, daily)
    return 0


if __name__ == "__main__":
    sys.exit(main())
