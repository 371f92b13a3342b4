"""Benchmark of the usage models: full refresh vs a one-day incremental run, and the full build of the usage,
engagement, cost/margin, KPI and feature marts, on synthetic source rows (bench/synthetic_usage.py).

    .venv/bin/python bench/bench_usage.py                                  # DuckDB, 10M requests over 12 months
    .venv/bin/python bench/bench_usage.py --engine postgres --requests 2000000

Steps: load `days` days of spend logs (+ customers, users, logins), build everything upstream, time
1) `dbt run --full-refresh -s tag:daily_partitioned` (the usage-event models),
2) `dbt run` of the other usage/engagement/KPI/feature marts,
then append one more day of spend logs and time
3) the daily run `dbt run -s tag:daily_partitioned --vars {partition_start, partition_end}` for that day.
Bars (issue): 3) <= 10% of 1) on DuckDB at >= 10M rows; 1) + 2) <= 120 s on DuckDB; Postgres within 5x.
Wall time includes dbt's own start-up (~several seconds, independent of data size); "models" is the sum of the
models' execution times from run_results.json, i.e. the SQL work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synthetic_usage import SyntheticScale, append_spend_logs, load_synthetic_raw, spend_log_batches
from orchestration.dbt_args import partition_vars
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import PROJECT_ROOT, Settings, load_settings
from tests.integration.simulated_warehouse import run_dbt

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


def timed_dbt(settings: Settings, args: list[str], extra_vars: dict[str, object] | None = None) -> tuple[float, float]:
    """(wall seconds, summed model execution seconds) of one dbt invocation; raises on failure."""
    started = time.perf_counter()
    result = run_dbt(settings, args, extra_vars=extra_vars)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{result.stdout[-5000:]}")
    results = json.loads((settings.data_dir / "dbt_target" / "run_results.json").read_text())["results"]
    models = sum(r["execution_time"] for r in results if r["unique_id"].startswith("model."))
    return wall, models


def partition_window(day: dt.date) -> dict[str, object]:
    """The vars Dagster passes for the daily partition `day` (orchestration/dbt_args.py partition_vars)."""
    return partition_vars(
        dt.datetime.combine(day, dt.time()), dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    )


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

    excluded = ["tag:daily_partitioned+", *(f"{m}+" for m in MART_MODELS)]
    timed_dbt(settings, ["seed"])
    timed_dbt(settings, ["run", "--exclude", *excluded])  # staging + revenue models (small synthetic billing data)

    full_wall, full_models = timed_dbt(settings, ["run", "--full-refresh", "--select", "tag:daily_partitioned"])
    marts_wall, marts_models = timed_dbt(settings, ["run", "--select", *MART_MODELS])

    settings = replace(settings, as_of_date=last_day)
    for batch in spend_log_batches(scale, first_day=last_day, days=1):
        append_spend_logs(warehouse, batch)
    inc_wall, inc_models = timed_dbt(
        settings, ["run", "--select", "tag:daily_partitioned"], extra_vars=partition_window(last_day)
    )

    print(f"[{args.engine}] {'step':<48} {'wall s':>8} {'models s':>9}")
    print(f"[{args.engine}] {'full refresh, daily-partitioned usage models':<48} {full_wall:8.1f} {full_models:9.1f}")
    print(f"[{args.engine}] {'one-day incremental run of the same models':<48} {inc_wall:8.1f} {inc_models:9.1f}")
    print(f"[{args.engine}] {'other usage/engagement/KPI/feature marts':<48} {marts_wall:8.1f} {marts_models:9.1f}")
    print(
        f"[{args.engine}] {'full build of the usage marts (1 + 3)':<48} {full_wall + marts_wall:8.1f} "
        f"{full_models + marts_models:9.1f}"
    )
    print(
        f"[{args.engine}] incremental / full refresh: {inc_wall / full_wall:.1%} wall, "
        f"{inc_models / full_models:.1%} models (bar <= 10%)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
