"""The bad-input corpus (tests/bad_input/cases.py) through the real connectors and loader, on each warehouse engine.

Each case writes a batch (good rows + the malformed input) into a source database (DuckDB file or PostgreSQL) or a
file drop, extracts it as a deployment would, and asserts: its outcome (loaded / rejected with field and reason in
raw._rejects / stopped with an error naming source, entity and field, nothing loaded, cursor unmoved),
rows received = loaded + rejected, and every good row of the batch present in raw.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from orchestration.extract import ExtractResult, extract_table
from orchestration.extract.state import read_cursor
from orchestration.resources.warehouse import WarehouseResource, quote
from orchestration.sources.connectors import database_connector
from orchestration.sources.connectors.files import FileDropConnector, load_file_drops
from orchestration.sources.schemas import CURRENCY_CODES, Column, SourceTable, table
from tests.bad_input.cases import BAD_KEY, CASES, LOADED, REJECTED, STOPPED, Case

T0 = dt.datetime(2026, 10, 1, 8, 0)
PREVIOUS_SHIFT = dt.timedelta(minutes=30)  # inside every lookback window: the moved-back rows are re-read


# --- the batch --------------------------------------------------------------------------------------------
def _value(source: SourceTable, column: Column, key: str, i: int, at: dt.datetime) -> str | None:
    """A valid value, as text, for row `i` of a batch."""
    if column.name in source.primary_key:
        return key
    if column.enum is CURRENCY_CODES:
        return "EUR"
    if column.enum is not None:
        return str(column.enum[0])
    if column.name in source.cursor and pa.types.is_timestamp(column.type):
        return at.isoformat(sep=" ")
    if column.name in ("event_time", "created_timestamp"):
        return str(int(at.replace(tzinfo=dt.UTC).timestamp() * 1000))
    kind = column.type
    if pa.types.is_timestamp(kind):
        return (T0 - dt.timedelta(days=10)).isoformat(sep=" ")
    if pa.types.is_date(kind):
        return "2026-10-01"
    if pa.types.is_boolean(kind):
        return "true"
    if pa.types.is_integer(kind):
        return str(100 + i)
    if pa.types.is_floating(kind):
        return "1.25"
    return f"{column.name}-{i}" if column.required or i % 2 == 0 else None


@dataclass
class Batch:
    source: SourceTable
    rows: list[dict[str, str | None]]  # text values (None: NULL)
    good_keys: list[str]
    bad_key: str | None
    columns: list[str] = field(default_factory=list)  # source columns after drift


def build_batch(case: Case, shift: dt.timedelta = dt.timedelta(0), *, with_bad: bool = True) -> Batch:
    source = table(case.entity)
    prefix = case.name.replace("_", "-")
    rows, good_keys = [], []
    for i in range(case.good_rows):
        key = f"{prefix}-{i}"
        rows.append({c.name: _value(source, c, key, i, T0 + shift + dt.timedelta(minutes=i)) for c in source.columns})
        good_keys.append(key)
    bad_key = None
    if with_bad and (case.bad or case.duplicate_of_good):
        bad_key = good_keys[0] if case.duplicate_of_good else f"{prefix}-{BAD_KEY}"
        base = rows[0] if case.duplicate_of_good else None
        bad = dict(base) if base else {c.name: _value(source, c, bad_key, 9, T0 + shift) for c in source.columns}
        bad.update({k: None if v is None else str(v) for k, v in case.bad.items()})
        if "id" in case.bad:
            bad_key = bad["id"]
        rows.append(bad)
    columns = [case.rename.get(c, c) for c in source.column_names if c not in case.drop] + list(case.add)
    renamed = [
        {
            **{case.rename.get(k, k): v for k, v in row.items() if k not in case.drop},
            **{k: str(v) for k, v in case.add.items()},
        }
        for row in rows
    ]
    return Batch(source, renamed, good_keys, bad_key, columns)


# --- delivering the batch through a channel ---------------------------------------------------------------
def text_table(batch: Batch) -> pa.Table:
    return pa.table({c: pa.array([r.get(c) for r in batch.rows], pa.string()) for c in batch.columns})


def write_duckdb_source(batch: Batch, path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.register("rows_in", text_table(batch))
        con.execute(f"CREATE OR REPLACE TABLE {quote(batch.source.name)} AS SELECT * FROM rows_in")


def write_postgres_source(batch: Batch, url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        name = sql.Identifier(batch.source.name)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(name))
        cols = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in batch.columns)
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(name, cols))
        with conn.cursor().copy(
            sql.SQL("COPY {} ({}) FROM STDIN").format(name, sql.SQL(", ").join(map(sql.Identifier, batch.columns)))
        ) as copy:
            for row in batch.rows:
                copy.write_row([row.get(c) for c in batch.columns])


def _typed(column: Column | None, value: str | None) -> object:
    """A text value as the natural JSON/Parquet value of its contract type (left as text when it does not parse)."""
    if value is None or column is None:
        return value
    try:
        if pa.types.is_integer(column.type):
            return int(value)
        if pa.types.is_floating(column.type):
            return float(value)
        if pa.types.is_boolean(column.type):
            return {"true": True, "false": False}[value]
    except (ValueError, KeyError):
        return value
    return value


def _splice(data: bytes, case: Case) -> bytes:
    if case.raw_bytes is None:
        return data
    placeholder = str(case.bad[case.field]).encode()
    assert data.count(placeholder) == 1, "the placeholder must occur once"
    return data.replace(placeholder, case.raw_bytes)


def write_file_drop(batch: Batch, case: Case, landing: Path) -> Path:
    folder = landing / batch.source.raw_name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{case.name}.{case.channel}"  # the channel names the format: csv, jsonl, parquet
    contract = {c.name: c for c in batch.source.columns}
    if case.channel == "csv":
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(batch.columns)
        writer.writerows([["" if r.get(c) is None else r[c] for c in batch.columns] for r in batch.rows])
        path.write_bytes(_splice(text.getvalue().encode(), case))
    elif case.channel == "jsonl":
        lines = [json.dumps({c: _typed(contract.get(c), r.get(c)) for c in batch.columns}) for r in batch.rows]
        path.write_bytes(_splice(("\n".join(lines) + "\n").encode(), case))
    else:
        arrays = {}
        for c in batch.columns:
            values = [r.get(c) for r in batch.rows]
            column = contract.get(c)
            if case.raw_bytes is not None and c == case.field:
                arrays[c] = pa.array(
                    [
                        None if v is None else _splice(v.encode(), case) if v == case.bad[c] else v.encode()
                        for v in values
                    ],
                    pa.binary(),
                )
                continue
            try:
                arrays[c] = pa.array([_parsed(column, v) for v in values], column.type if column else pa.string())
            except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, TypeError):
                arrays[c] = pa.array(values, pa.string())
        pq.write_table(pa.table(arrays), path)
    return path


def _parsed(column: Column | None, value: str | None) -> object:
    if value is None or column is None:
        return value
    if pa.types.is_timestamp(column.type):
        return dt.datetime.fromisoformat(value)
    if pa.types.is_date(column.type):
        return dt.date.fromisoformat(value)
    typed = _typed(column, value)
    if isinstance(typed, str) and not pa.types.is_string(column.type):
        raise ValueError(value)
    return typed


@dataclass
class Observed:
    result: ExtractResult | None = None
    error: str | None = None  # exception message, or a file's quarantine reason


class Channel:
    """Delivers batches of one case and extracts them into the warehouse."""

    def __init__(self, case: Case, warehouse: WarehouseResource, workdir: Path, postgres_databases) -> None:
        self.case = case
        self.warehouse = warehouse
        self.workdir = workdir
        self.postgres_url: str | None = None
        if case.channel == "postgres_database":
            self.postgres_url = postgres_databases.create(f"src_{warehouse.engine}_{case.name}"[:40]).url

    def extract(self, batch: Batch) -> Observed:
        if self.case.channel in ("csv", "jsonl", "parquet"):
            landing = self.workdir / "landing"
            write_file_drop(batch, self.case, landing)
            report = load_file_drops(self.warehouse, FileDropConnector(landing), [batch.source])
            if report.quarantined:
                [(_, reason)] = report.quarantined
                return Observed(error=f"{batch.source.key}: {reason}")
            [(_, result)] = report.loaded
            return Observed(result=result)
        if self.postgres_url:
            write_postgres_source(batch, self.postgres_url)
            location = self.postgres_url
        else:
            location = str(self.workdir / "source.duckdb")
            write_duckdb_source(batch, Path(location))
        connector = database_connector(location, "database")
        try:
            return Observed(result=extract_table(self.warehouse, connector, batch.source))
        except Exception as exc:  # the STOPPED outcome: asserted below
            return Observed(error=str(exc))
        finally:
            connector.close()


# --- reading the warehouse --------------------------------------------------------------------------------
def raw_rows(warehouse: WarehouseResource, source: SourceTable, keys: list[str]) -> dict[str, dict]:
    if not warehouse.table_exists("raw", source.raw_name) or not keys:
        return {}
    key = quote(source.primary_key[0])
    marks = ", ".join(f"${i}" for i in range(1, len(keys) + 1))
    data = warehouse.query_arrow(f"SELECT * FROM raw.{quote(source.raw_name)} WHERE {key} IN ({marks})", keys)
    return {r[source.primary_key[0]]: r for r in data.to_pylist()}


def rejects(warehouse: WarehouseResource, source: SourceTable) -> list[tuple]:
    if not warehouse.table_exists("raw", "_rejects"):
        return []
    return warehouse.query(
        "SELECT record_key, field, reason, payload FROM raw._rejects WHERE source = $1 AND entity = $2",
        [source.system, source.name],
    )


def cursor(warehouse: WarehouseResource, source: SourceTable) -> object:
    if not warehouse.table_exists("raw", "_extract_state"):
        return None
    with warehouse.connect() as session:
        return read_cursor(session, source)


# --- the test ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_case(case: Case, make_settings, request, tmp_path: Path) -> None:
    settings = make_settings(f"bad_{case.name}"[:40])
    warehouse = WarehouseResource.from_settings(settings)
    postgres = request.getfixturevalue("postgres_databases") if case.channel == "postgres_database" else None
    channel = Channel(case, warehouse, tmp_path, postgres)
    batch = build_batch(case)
    source = batch.source

    if case.previous:
        # an earlier extraction of the same keys, 30 minutes later in the source's time (3 rows when the case has none)
        earlier = build_batch(replace(case, good_rows=case.good_rows or 3), PREVIOUS_SHIFT, with_bad=False)
        before = channel.extract(earlier)
        assert before.error is None and before.result.rows_rejected == 0
        assert len(raw_rows(warehouse, source, earlier.good_keys)) == len(earlier.good_keys)
    cursor_before = cursor(warehouse, source)
    observed = channel.extract(batch)

    if case.outcome == STOPPED:
        assert observed.error is not None, f"{case.name}: expected the run to stop"
        for word in (source.system, source.name, case.field):
            assert word in observed.error, f"{case.name}: {word!r} not named in: {observed.error}"
        assert re.search(case.reason, observed.error), observed.error
        assert raw_rows(warehouse, source, batch.good_keys) == {}, "a stopped batch must load nothing"
        assert cursor(warehouse, source) == cursor_before, "a stopped batch must not move the cursor"
        return

    assert observed.error is None, f"{case.name}: unexpected error {observed.error}"
    result = observed.result
    assert result.rows_received == result.rows_loaded + result.rows_rejected == len(batch.rows)
    loaded = raw_rows(warehouse, source, batch.good_keys + ([batch.bad_key] if batch.bad_key else []))
    found_rejects = rejects(warehouse, source)
    notes = " | ".join(result.notes)
    if case.reason and case.outcome == LOADED:
        assert re.search(case.reason, notes), f"{case.name}: not explained: {notes}"
    if case.add:
        assert result.extra_columns == list(case.add)

    if case.duplicate_of_good and case.outcome == REJECTED:
        # one version of the key is kept, the other rejected with its own payload
        [(key, field_name, reason, payload)] = found_rejects
        assert (key, field_name) == (batch.bad_key, case.field) and re.search(case.reason, reason)
        kept = loaded[batch.bad_key]["name"]
        assert {kept, json.loads(payload)["name"]} == {batch.rows[0]["name"], case.bad["name"]}
    elif case.outcome == REJECTED:
        assert result.rows_rejected == 1
        [(key, field_name, reason, payload)] = found_rejects
        assert key == (batch.bad_key or ""), key
        assert field_name == case.field and re.search(case.reason, reason), reason
        assert reason.startswith(f"field {case.field}: ") and json.loads(payload)
        assert batch.bad_key not in loaded or batch.bad_key == ""
    else:
        assert result.rows_rejected == 0 and found_rejects == []
        if batch.bad_key:
            assert batch.bad_key in loaded
            for column, value in case.bad.items():
                assert str(loaded[batch.bad_key][column]) == value, f"{column} not stored exactly"
    if case.previous:  # nothing the earlier extraction loaded is lost or marked deleted
        kept = raw_rows(warehouse, source, earlier.good_keys)
        assert len(kept) == len(earlier.good_keys) and all(r.get("_deleted_at") is None for r in kept.values())
    missing = [k for k in batch.good_keys if k not in loaded]
    assert missing == [], f"{case.name}: good rows lost: {missing}"
