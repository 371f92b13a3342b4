"""Benchmark of the usage models: full refresh vs a one-day incremental run of the daily-partitioned usage models,
and the full build of the usage, engagement, cost/margin, KPI and feature marts, on synthetic source rows
(bench/synthetic_usage.py).

    .venv/bin/python bench/bench_usage.py                                  # DuckDB, 10M requests over 12 months
    .venv/bin/python bench/bench_usage.py --engine postgres

How a step is timed: each step is one dbt invocation made the way the Dagster assets make it: dbt_resource().cli()
(orchestration/resources/dbt.py: dbt in the calling process) with the project-wide --vars of build_args() and the
per-run settings (as-of date, partition window) in the environment, the project's parse prepared beforehand (`dbt
parse` with the same vars, as `make manifest` does). The steps run one after another in one process that has
imported the code location's modules, as the in-process executor of a DuckDB run runs them (dbt then re-parses only
what changed since its previous invocation); steps 1 and 3 are also timed each in a fresh process, as a step of the
multiprocess executor (PostgreSQL runs) makes them. "wall" is what a user waits for (parse, compile, SQL,
artifacts); "models" is the SQL part: the sum of the models' execution times in run_results.json.

Steps, after loading `days` days of spend logs (+ customers, users, logins) and building everything upstream:
1) `dbt run --full-refresh --select tag:daily_partitioned` (the usage-event models),
2) `dbt run --select <the other usage/engagement/KPI/feature marts>`,
then one more day of spend logs is appended and
3) the daily run for that day: `dbt run --select tag:daily_partitioned`, partition window [day, day + 1),
4) `dbt test --select tag:daily_partitioned`: the data tests `dbt build` adds to 3) in the Dagster job,
and, for comparison, 3) again with the per-run settings passed as --vars (as before: dbt then re-parses the project).
Bars (issue 4): 3) <= 10% of 1) at >= 10M rows on DuckDB; 1) + 2) <= 120 s on DuckDB; PostgreSQL within 5x.
Quiet machine wanted: the ratio compares seconds of SQL with a fixed ~1 s, and other load inflates only the SQL.
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
from orchestration.assets.dbt import daily_partition_env
from orchestration.dbt_args import DAILY_PARTITIONED_TAG, build_args, parse_args, partition_vars, vars_arg
from orchestration.resources.dbt import dbt_environment, dbt_resource
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
    models: float  # SQL: sum of the models' execution times
    tests: float  # sum of the data tests' execution times
    model_times: dict[str, float]

    @property
    def overhead(self) -> float:
        """What is neither a model nor a test: parse, compile, cache, threads, artifacts."""
        return self.wall - self.models - self.tests


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
    """One dbt invocation as the Dagster asset makes it: in this process (orchestration/resources/dbt.py)."""
    started = time.perf_counter()
    resource = dbt_resource(settings)
    # the prepared parse lives in `target`'s parent (see prepare_parse); the resource seeds from DBT_TARGET_PATH
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
    return StepTime(wall, sum(model_times.values()), tests, model_times)


class DbtProcess:
    """A process that has imported the code location's modules, as a Dagster run or step process has, and runs
    the bench's dbt invocations one after another, as the in-process executor of a DuckDB run does (dbt then
    re-parses only what changed since its previous invocation). `cold=True`: a fresh process per invocation,
    like a step of the multiprocess executor, whose first dbt invocation starts from the prepared parse."""

    def __init__(self) -> None:
        self._pool = _code_location_process()

    def invoke(
        self, settings: Settings, name: str, args: list[str], env: dict[str, str], cold: bool = False
    ) -> StepTime:
        target = settings.data_dir / "dbt_target" / name
        if not cold:
            return self._pool.submit(_invoke, settings, args, env, target).result()
        with _code_location_process() as pool:
            return pool.submit(_invoke, settings, args, env, target).result()

    def close(self) -> None:
        self._pool.shutdown()


def _code_location_process() -> ProcessPoolExecutor:
    """A fresh process that has imported what a Dagster process has before it runs an asset (not timed)."""
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    pool.submit(_import_code_location).result()
    return pool


def _import_code_location() -> None:
    import orchestration.assets.dbt  # noqa: F401


def prepare_parse(dbt: DbtProcess, settings: Settings) -> None:
    """`dbt parse` with the runs' vars and target into dbt_target/parse, as `make manifest` prepares the project."""
    dbt.invoke(settings, "parse", parse_args(settings.dbt_vars()), settings.dbt_env())


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


def report(engine: str, steps: dict[str, StepTime], full: StepTime, marts: StepTime, ratios: dict[str, float]) -> None:
    print(f"[{engine}] {'step':<52} {'wall s':>7} {'models':>7} {'tests':>6} {'other':>6}")
    for name, step in steps.items():
        print(f"[{engine}] {name:<52} {step.wall:7.1f} {step.models:7.1f} {step.tests:6.1f} {step.overhead:6.1f}")
    print(
        f"[{engine}] full build of the usage marts (1 + 2): {full.wall + marts.wall:.1f} s wall, "
        f"{full.models + marts.models:.1f} s models (bar: <= 120 s on DuckDB)"
    )
    for name, ratio in ratios.items():
        print(f"[{engine}] {name}: {ratio:.1%} (bar: <= 10%)")
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
    dbt = DbtProcess()
    prepare_parse(dbt, settings)
    # one argument per selection (space-separated selectors): the dbt CLI takes no further positional values
    excluded = ["--exclude", " ".join([f"tag:{DAILY_PARTITIONED_TAG}+", *(f"{m}+" for m in MART_MODELS)])]
    dbt.invoke(settings, "seed", run_args(settings, command="seed"), env)
    dbt.invoke(settings, "upstream", run_args(settings, *excluded), env)  # staging + revenue (small synthetic billing)

    full_refresh = run_args(settings, "--full-refresh", *PARTITIONED)
    full = dbt.invoke(settings, "full_refresh", full_refresh, env)
    marts = dbt.invoke(settings, "marts", run_args(settings, "--select", " ".join(MART_MODELS)), env)
    settings = replace(settings, as_of_date=last_day)
    for batch in spend_log_batches(scale, first_day=last_day, days=1):
        append_spend_logs(warehouse, batch)
    daily_env = one_day_env(settings, last_day)
    one_day = run_args(settings, *PARTITIONED)
    daily = dbt.invoke(settings, "one_day", one_day, daily_env)
    daily_tests = dbt.invoke(settings, "one_day_tests", run_args(settings, *PARTITIONED, command="test"), daily_env)
    # the same two runs each in a fresh process (a multiprocess-executor step); re-running the day redoes the
    # same work (its lookback window is deleted and re-inserted)
    full_cold = dbt.invoke(settings, "full_refresh_cold", full_refresh, env, cold=True)
    daily_cold = dbt.invoke(settings, "one_day_cold", one_day, daily_env, cold=True)
    # for comparison: the same run with the per-run settings in --vars (how they were passed before), which makes
    # dbt re-parse the whole project on every run
    window = partition_vars(*one_day_window(last_day))
    per_run_vars = {**settings.dbt_vars(), "as_of_date": last_day.isoformat(), **window}
    daily_as_vars = dbt.invoke(
        settings, "one_day_vars", ["run", "--vars", vars_arg(per_run_vars), *PARTITIONED], settings.dbt_env()
    )
    dbt.close()
    steps = {
        "1 full refresh, partitioned usage models": full,
        "2 other usage marts": marts,
        "3 one-day run, partitioned usage models": daily,
        "4 data tests of 3 (dbt build adds them)": daily_tests,
        "1 in a fresh process": full_cold,
        "3 in a fresh process": daily_cold,
        "3 again, per-run settings as --vars (before)": daily_as_vars,
    }
    ratios = {
        "one-day run / full refresh (3 / 1), one process (DuckDB runs)": daily.wall / full.wall,
        "the same, each in a fresh process (multiprocess steps)": daily_cold.wall / full_cold.wall,
        "the same in model time": daily.models / full.models,
    }
    report(args.engine, steps, full, marts, ratios)
    return 0


if __name__ == "__main__":
    sys.exit(main())
