"""Revenue marts build time at scale: 20,000 simulated customers over 36 months, on DuckDB and PostgreSQL.

Run: .venv/bin/python bench/bench_revenue.py [--customers 20000] [--months 36] [--engines duckdb,postgres]

Simulates the company once (usage volume scaled down: the revenue models do not read it), loads the Lago and
Keycloak tables into raw on each engine with the project's loader, builds staging, then times
(a) `dbt run` of the revenue models (intermediate/revenue + marts/revenue) and (b) `dbt build` of the same
selection (models + their data and unit tests). Prints seconds; asserts nothing. Bars: (a) <= 60 s on DuckDB,
<= 4x that on PostgreSQL. PostgreSQL at BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import PostgresParams, Settings, SimulatorSettings
from orchestration.sources.simulator import Simulator, SimulatorConfig
from tests.integration.simulated_warehouse import load_into_raw, run_dbt

REVENUE = ["path:models/intermediate/revenue", "path:models/marts/revenue"]
RAW_SYSTEMS = ("lago.", "keycloak.user_entity", "keycloak.user_attribute")


def admin_postgres() -> PostgresParams:
    return PostgresParams.from_url(
        os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )


def drop_postgres(dbname: str) -> None:
    with psycopg.connect(admin_postgres().conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def fresh_postgres(dbname: str) -> PostgresParams:
    drop_postgres(dbname)
    with psycopg.connect(admin_postgres().conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    return admin_postgres().with_dbname(dbname)


def timed_dbt(settings: Settings, args: list[str]) -> float:
    started = time.perf_counter()
    result = run_dbt(settings, args)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed on {settings.warehouse}:\n{result.stdout[-4000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--engines", default="duckdb,postgres")
    parser.add_argument("--usage-scale", type=float, default=0.02)
    args = parser.parse_args()

    start = dt.date(2023, 1, 1)
    as_of = start + dt.timedelta(days=round(args.months * 30.44) - 1)
    config = SimulatorConfig(
        seed=42, n_customers=args.customers, start_date=start, months=args.months, usage_scale=args.usage_scale
    )
    t = time.perf_counter()
    tables = Simulator(config).source_tables(as_of)
    tables = {key: data for key, data in tables.items() if key.startswith(RAW_SYSTEMS)}
    print(
        f"simulated {args.customers} customers x {args.months} months (as of {as_of})"
        f" in {time.perf_counter() - t:.1f} s;"
        f" subscriptions={tables['lago.subscriptions'].num_rows} invoices={tables['lago.invoices'].num_rows}"
    )

    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_revenue_") as tmp:
        for engine in args.engines.split(","):
            data_dir = Path(tmp) / engine
            settings = Settings(
                warehouse=engine,
                data_dir=data_dir,
                duckdb_path=data_dir / "warehouse.duckdb",
                simulator=SimulatorSettings(n_customers=args.customers, start_date=start, as_of=as_of),
                as_of_date=as_of,
            )
            if engine == "postgres":
                settings = replace(settings, postgres=fresh_postgres("bench_revenue"))
            t = time.perf_counter()
            load_into_raw(settings, tables)
            load_s = time.perf_counter() - t
            upstream = ["--select", *(f"+{s}" for s in REVENUE), "--exclude", *REVENUE]
            timed_dbt(settings, ["seed"])
            timed_dbt(settings, ["run", *upstream])
            run_s = timed_dbt(settings, ["run", "--select", *REVENUE])
            build_s = timed_dbt(
                settings, ["build", "--select", *REVENUE, "path:tests/revenue", "--indirect-selection", "cautious"]
            )
            results[engine] = run_s
            count_rows = WarehouseResource.from_settings(settings).query("select count(*) from marts.fct_mrr")
            customer_months = count_rows[0][0]
            print(
                f"{engine}: load raw {load_s:.1f} s; fct_mrr {customer_months} customer-months;"
                f" revenue models dbt run {run_s:.1f} s;"
                f" dbt build (models + tests) {build_s:.1f} s"
            )
    if "postgres" in results:
        drop_postgres("bench_revenue")
    if "duckdb" in results and "postgres" in results:
        print(f"postgres / duckdb (dbt run): {results['postgres'] / results['duckdb']:.2f}x")


if __name__ == "__main__":
    main()
