"""Extraction throughput: our loader vs the engine's native bulk load, for usage-shaped rows.

    .venv/bin/python bench/bench_extract.py [--rows 1000000] [--engines duckdb,postgres] [--repeat 3]

For each engine, on the same Arrow rows (LiteLLM_SpendLogs shape, read from a source DuckDB file):
(a) native bulk load into an empty table, committed: DuckDB INSERT from the Arrow table; PostgreSQL
    COPY FROM STDIN (ADBC ingest, binary COPY); (b) our extraction end to end into an empty raw table
    (read source, validate, stage, merge, rejects, cursor, commit); (c) a rerun (lookback window
    re-read, nothing new); (d) one more day of rows. (a) and (b) run --repeat times, alternating;
    prints rows/s and the ratio of their medians. Needs PostgreSQL at BENCH_POSTGRES_URL (default
    postgresql://postgres@127.0.0.1:5432/postgres) for the Postgres half.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestration.extract import extract_table
from orchestration.extract.tables import STATE_TABLE, sql_type
from orchestration.resources.warehouse import WarehouseResource, qualified, quote
from orchestration.sources.connectors import database_connector
from orchestration.sources.schemas import MODEL_PRICES, table

SPEND_LOGS = table("litellm.LiteLLM_SpendLogs")
START = dt.datetime(2026, 9, 1)
DAYS = 30


def write_usage_source(path: Path, rows: int, first_row: int = 0, start: dt.datetime = START, days: int = DAYS) -> None:
    """Usage-shaped rows generated in SQL (fast and deterministic), appended to "LiteLLM_SpendLogs"."""
    models = list(MODEL_PRICES)
    model_list = "[" + ", ".join(f"'{m}'" for m in models) + "]"
    seconds = days * 86400
    offset_us = f"CAST((i - {first_row}) * {seconds} // {rows} AS BIGINT) * 1000000"
    with duckdb.connect(str(path)) as con:
        columns = ", ".join(f"{quote(c.name)} {sql_type(c.type, 'duckdb')}" for c in SPEND_LOGS.columns)
        con.execute(f'CREATE TABLE IF NOT EXISTS "LiteLLM_SpendLogs" ({columns})')
        con.execute(
            f"""
            INSERT INTO "LiteLLM_SpendLogs"
            SELECT
                'req-' || lpad(CAST(i AS VARCHAR), 10, '0') AS request_id,
                CASE WHEN i % 10 = 0 THEN 'aembedding' ELSE 'acompletion' END,
                md5(CAST(i % 5000 AS VARCHAR)),
                (i % 997) * 1.0e-5,
                (i % 3000) + (i % 700), i % 3000, i % 700,
                TIMESTAMP '{start}' + to_microseconds({offset_us}),
                TIMESTAMP '{start}' + to_microseconds({offset_us} + 800000 + (i % 5000) * 1000),
                NULL,
                800 + i % 5000,
                {model_list}[1 + i % {len(models)}],
                {model_list}[1 + i % {len(models)}],
                'openai',
                'user-' || CAST(i % 20000 AS VARCHAR),
                'cust-' || CAST(i % 3000 AS VARCHAR),
                '', '',
                '{{"user_api_key_alias": null}}', '[]',
                CASE WHEN i % 7 = 0 THEN 'True' ELSE 'False' END,
                '',
                CASE WHEN i % 50 = 0 THEN 'failure' ELSE 'success' END,
                'sess-' || CAST(i // 20 AS VARCHAR)
            FROM range({first_row}, {first_row + rows}) AS r(i)
            """
        )


def report(engine: str, label: str, rows: int, seconds: float, extra: str = "") -> None:
    print(f"[{engine}] {label:<30} {rows:>9,} rows {seconds:6.2f}s {rows / seconds:>11,.0f} rows/s {extra}")


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def native_load(warehouse: WarehouseResource, rows: pa.Table) -> float:
    """Bulk load of the same Arrow rows into an empty table with the same columns, committed."""
    with warehouse.connect() as session:
        session.execute("CREATE SCHEMA IF NOT EXISTS bench")
        session.execute("DROP TABLE IF EXISTS bench.native_load")
        columns = ", ".join(f"{quote(c.name)} {sql_type(c.type, session.engine)}" for c in SPEND_LOGS.columns)
        session.execute(f"CREATE TABLE bench.native_load ({columns})")

    def load() -> None:  # connect, load, commit, close: what the extraction's timing includes too
        with warehouse.connect() as session:
            session.bulk_load("bench", "native_load", rows)

    seconds, _ = timed(load)
    return seconds


def postgres_csv_copy(url: str, source: Path) -> float:
    """Text COPY FROM STDIN through psycopg, with the CSV written by Arrow (for comparison)."""
    import pyarrow.csv as pacsv

    with duckdb.connect(str(source), read_only=True) as con:
        rows = con.sql('SELECT * FROM "LiteLLM_SpendLogs"').to_arrow_table()

    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench.native_csv")
        columns = ", ".join(f"{quote(c.name)} {sql_type(c.type, 'postgres')}" for c in SPEND_LOGS.columns)
        conn.execute(f"CREATE TABLE bench.native_csv ({columns})")
        conn.commit()
        start = time.perf_counter()
        sink = pa.BufferOutputStream()
        pacsv.write_csv(rows, sink, pacsv.WriteOptions(include_header=False))
        with conn.cursor().copy("COPY bench.native_csv FROM STDIN (FORMAT csv)") as copy:
            copy.write(sink.getvalue().to_pybytes())
        conn.commit()
        return time.perf_counter() - start


def reset_raw(warehouse: WarehouseResource) -> None:
    """Back to an empty raw table and no cursor, as before a first extraction."""
    with warehouse.connect() as session:
        session.execute(f"DROP TABLE IF EXISTS {qualified('raw', SPEND_LOGS.raw_name)}")
        if session.table_exists("raw", STATE_TABLE):
            session.execute(f"DELETE FROM {qualified('raw', STATE_TABLE)}")


def extract(warehouse: WarehouseResource, source: Path):
    connector = database_connector(source, "bench")
    try:
        return timed(lambda: extract_table(warehouse, connector, SPEND_LOGS))
    finally:
        connector.close()


def bench_engine(engine: str, source: Path, workdir: Path, n_rows: int, pg_admin: str, repeat: int) -> None:
    if engine == "duckdb":
        warehouse = WarehouseResource(engine="duckdb", duckdb_path=str(workdir / "warehouse.duckdb"))
    else:
        dbname = f"bench_extract_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {dbname}")
        url = pg_admin.rsplit("/", 1)[0] + "/" + dbname
        warehouse = WarehouseResource(engine="postgres", postgres_url=url)
    try:
        with duckdb.connect(str(source), read_only=True) as con:
            rows = con.sql('SELECT * FROM "LiteLLM_SpendLogs"').to_arrow_table()
        # Alternate the two loads and compare medians: single timings on a shared machine vary by ±20%.
        natives, extractions = [], []
        for _ in range(repeat):
            natives.append(native_load(warehouse, rows))
            reset_raw(warehouse)
            seconds, result = extract(warehouse, source)
            extractions.append(seconds)
            assert result.rows_inserted == n_rows, result.metadata()
        del rows
        native, seconds = statistics.median(natives), statistics.median(extractions)
        spread = f"(runs: {', '.join(f'{s:.2f}' for s in natives)})"
        report(engine, "(a) native bulk load", n_rows, native, spread)
        if engine == "postgres":
            report(engine, "    psycopg COPY csv", n_rows, postgres_csv_copy(url, source))
        spread = f"(runs: {', '.join(f'{s:.2f}' for s in extractions)})"
        report(engine, "(b) extraction, empty raw", n_rows, seconds, f"ratio to native {native / seconds:.2f} {spread}")
        seconds, result = extract(warehouse, source)
        changes = f"inserted {result.rows_inserted}, unchanged {result.rows_unchanged}"
        report(engine, "(c) rerun (lookback re-read)", result.rows_received, seconds, changes)
        day = max(1, n_rows // DAYS)
        write_usage_source(source, day, first_row=n_rows, start=START + dt.timedelta(days=DAYS), days=1)
        seconds, result = extract(warehouse, source)
        changes = f"inserted {result.rows_inserted}, unchanged {result.rows_unchanged}"
        report(engine, "(d) one more day", result.rows_received, seconds, changes)
        with duckdb.connect(str(source)) as con:  # back to the original rows for the next engine
            con.execute(f"DELETE FROM \"LiteLLM_SpendLogs\" WHERE request_id >= 'req-{n_rows:010d}'")
        with warehouse.connect() as session:
            total = session.query(f"SELECT count(*) FROM {qualified('raw', SPEND_LOGS.raw_name)}")[0][0]
        assert total == n_rows + day, total
    finally:
        if engine == "postgres":
            with psycopg.connect(pg_admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--engines", default="duckdb,postgres")
    parser.add_argument("--repeat", type=int, default=3, help="alternating native/extraction runs (medians compared)")
    args = parser.parse_args()
    pg_admin = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with tempfile.TemporaryDirectory(prefix="bench_extract_") as tmp:
        workdir = Path(tmp)
        source = workdir / "litellm.duckdb"
        seconds, _ = timed(lambda: write_usage_source(source, args.rows))
        print(f"source: {args.rows:,} usage rows written in {seconds:.1f}s")
        for engine in args.engines.split(","):
            bench_engine(engine, source, workdir, args.rows, pg_admin, args.repeat)


if __name__ == "__main__":
    main()
