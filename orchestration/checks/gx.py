"""Great Expectations 1.x integration: suites from expectations/*.json validated against the warehouse.

dagster-ge only supports GX 0.x, so this module is the bridge. No Dagster import here: it validates one guarded
table and returns a `SuiteOutcome` that orchestration/checks/quality.py turns into an asset check result.

Engines (same suite JSON on both):
- DuckDB: GX's SQL path cannot run on DuckDB, so the table is read with the warehouse resource and validated as pandas
  DataFrames, chunk by chunk (`chunk_rows`), so memory stays flat on large tables. Uniqueness is therefore checked
  within a chunk; across chunks the loader's merge on the primary key already guarantees it. Column types are
  normalised first (`_vectorizable_type`) so GX compares whole columns instead of calling Python per value.
- PostgreSQL: a GX SQL datasource (SQLAlchemy 2 + psycopg) over a query asset; GX pushes the work into SQL.
The tables of one check op share one warehouse connection and one GX datasource (`validate_tables`).

A suite's `meta.guard` says what it guards: the asset key, the relation, the key columns (used for the sample of
offending keys), whether a failure blocks downstream assets, the scope (`all` rows, or `latest_load` = the rows of the
most recent extraction, for the large append-only tables) and derived columns (SQL expressions evaluated by the
warehouse, e.g. the highest plausible spend of a request), so one SQL text serves both engines.

GX is imported lazily (orchestration/checks/gx_import.py): loading the code location must not pay for it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from orchestration.lazy import lazy_module
from orchestration.resources.warehouse import (
    WarehouseResource,
    WarehouseSession,
    qualified,
    quote,
    timestamp_literal,
)
from orchestration.sources import schemas

if TYPE_CHECKING:
    import pandas as pd

# Deferred: only executing the checks needs them, not loading the code location (orchestration/lazy.py).
pa = lazy_module("pyarrow")
pc = lazy_module("pyarrow.compute")

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
DEFAULT_CHUNK_ROWS = 250_000
SAMPLE_KEYS = 10  # offending keys reported per failed expectation
Scope = Literal["all", "latest_load"]
SCOPES = ("all", "latest_load")
LOADED_AT = "_loaded_at"

logger = logging.getLogger(__name__)


class SuiteError(ValueError):
    """A suite file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class GuardedTable:
    """One table guarded by one suite file."""

    suite_name: str
    path: Path
    asset_key: tuple[str, ...]
    relation: tuple[str, str]  # (schema, table)
    key_columns: tuple[str, ...]
    blocking: bool
    scope: Scope
    derived_columns: Mapping[str, str]
    suite: Mapping[str, Any] = field(repr=False)

    @property
    def layer(self) -> str:
        return self.asset_key[0]

    def select_sql(
        self, existing_columns: Iterable[str] | None = None, latest_load_at: dt.datetime | None = None
    ) -> str:
        """The rows to validate, with the derived columns; the same SQL on DuckDB and PostgreSQL.

        Given the table's `existing_columns`, a column the suite names but the table lacks is left out, so only the
        expectations on it fail (GX reports the missing column) instead of the whole read. Scope `latest_load`: the
        rows whose `_loaded_at` is `latest_load_at` (the table's newest, read beforehand; None: no rows), indexed
        on PostgreSQL for the append-only tables (orchestration/extract/tables.py).
        """
        table = qualified(*self.relation)
        existing = None if existing_columns is None else set(existing_columns)
        selected = [quote(c) for c in self.referenced_columns if existing is None or c in existing]
        selected += [f"{expression} AS {quote(name)}" for name, expression in self.derived_columns.items()]
        sql = f"SELECT {', '.join(selected)} FROM {table}"
        if self.scope == "latest_load":
            # A literal, not `>= (SELECT max(...))`: PostgreSQL estimates a subquery's value at a third of the
            # table and scans all of it. The materialized CTE fences the scope off from the queries GX wraps around
            # it: given the uniqueness check's window + LIMIT, PostgreSQL would otherwise walk the primary key over
            # the whole history, filtering on `_loaded_at` (13.6 s instead of 68 ms for 7k of 3.8M rows).
            # GX wants its query to start with SELECT, hence the outer one.
            since = "FALSE" if latest_load_at is None else f"{quote(LOADED_AT)} >= {timestamp_literal(latest_load_at)}"
            sql = (
                f"SELECT * FROM (WITH latest AS MATERIALIZED ({sql} WHERE {since}) SELECT * FROM latest) AS latest_load"
            )
        return sql

    def latest_load_at(self, session: WarehouseSession) -> dt.datetime | None:
        """When the newest rows were loaded (scope `latest_load`), from the `_loaded_at` index on PostgreSQL."""
        return session.query(f"SELECT max({quote(LOADED_AT)}) FROM {qualified(*self.relation)}")[0][0]

    @property
    def referenced_columns(self) -> list[str]:
        """Stored columns the suite reads (keys first): wide text columns nobody checks are not read."""
        columns = dict.fromkeys(self.key_columns)
        for expectation in self.suite["expectations"]:
            columns.update(dict.fromkeys(_columns(expectation["kwargs"])))
        return [c for c in columns if c not in self.derived_columns]

    @property
    def expectation_count(self) -> int:
        return len(self.suite["expectations"])


def load_guarded_table(path: Path) -> GuardedTable:
    try:
        suite = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not valid JSON: {exc}") from exc
    guard = (suite.get("meta") or {}).get("guard")
    if not isinstance(guard, dict):
        raise SuiteError(f"{path}: meta.guard is missing (asset_key, relation, key_columns, blocking, scope)")
    missing = [k for k in ("asset_key", "relation", "key_columns") if k not in guard]
    if missing:
        raise SuiteError(f"{path}: meta.guard lacks {', '.join(missing)}")
    scope = guard.get("scope", "all")
    if scope not in SCOPES:
        raise SuiteError(f"{path}: meta.guard.scope is {scope!r}; expected one of {', '.join(SCOPES)}")
    if len(guard["relation"]) != 2:
        raise SuiteError(f"{path}: meta.guard.relation must be [schema, table], got {guard['relation']!r}")
    if not suite.get("expectations"):
        raise SuiteError(f"{path}: the suite has no expectations")
    return GuardedTable(
        suite_name=suite.get("name") or path.stem,
        path=path,
        asset_key=tuple(guard["asset_key"]),
        relation=(guard["relation"][0], guard["relation"][1]),
        key_columns=tuple(guard["key_columns"]),
        blocking=bool(guard.get("blocking", False)),
        scope=scope,
        derived_columns=dict(guard.get("derived_columns") or {}),
        suite=suite,
    )


def load_guarded_tables(directory: Path = EXPECTATIONS_DIR) -> list[GuardedTable]:
    """Every suite under `directory` (one JSON file per guarded table), sorted by file name."""
    tables = [load_guarded_table(path) for path in sorted(Path(directory).glob("*.json"))]
    seen: dict[tuple[str, ...], Path] = {}
    for table in tables:
        if table.asset_key in seen:
            raise SuiteError(
                f"{table.path}: asset {'/'.join(table.asset_key)} is already guarded by {seen[table.asset_key]}"
            )
        seen[table.asset_key] = table.path
    return tables


# --- outcomes --------------------------------------------------------------------------------------------------------


@dataclass
class FailedExpectation:
    expectation: str
    columns: tuple[str, ...]
    critical: bool
    unexpected_count: int = 0
    sample_keys: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # the expectation could not be evaluated (e.g. a missing column)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "expectation": self.expectation,
            "columns": list(self.columns),
            "severity": "critical" if self.critical else "warning",
            "unexpected_count": self.unexpected_count,
            "sample_keys": self.sample_keys,
        }
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class SuiteOutcome:
    table: GuardedTable
    engine: str
    rows_validated: int = 0
    evaluated: int = 0
    failures: list[FailedExpectation] = field(default_factory=list)
    error: str | None = None  # the table could not be read at all

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None

    @property
    def critical(self) -> bool:
        """A failed critical expectation (or an unreadable table) makes the check ERROR; otherwise WARN."""
        return self.error is not None or any(f.critical for f in self.failures)

    @property
    def failing_columns(self) -> list[str]:
        return sorted({c for f in self.failures for c in f.columns})

    def metadata(self) -> dict[str, Any]:
        """Plain values (the Dagster layer wraps them): counts, failing columns and samples of offending keys."""
        meta: dict[str, Any] = {
            "suite": self.table.suite_name,
            "suite_file": self.table.path.name,
            "engine": self.engine,
            "scope": self.table.scope,
            "rows_validated": self.rows_validated,
            "expectations_evaluated": self.evaluated,
            "expectations_failed": len(self.failures),
            "failing_columns": self.failing_columns,
            "failures": [f.as_dict() for f in self.failures],
        }
        if self.error:
            meta["error"] = self.error
        return meta


# --- GX plumbing -----------------------------------------------------------------------------------------------------


def expectation_parameters(now: dt.datetime) -> dict[str, Any]:
    """Values the suites reference with {"$PARAMETER": ...}: the check's run time, as a timestamp and in epoch ms,
    and the extraction contract's ISO 4217 codes (babel's list, which changes with its releases: a copy in the
    suites would drift from the contract the loader enforces)."""
    now_utc = now.astimezone(dt.UTC) if now.tzinfo else now.replace(tzinfo=dt.UTC)
    return {
        "now": now_utc.replace(tzinfo=None),
        "now_epoch_ms": int(now_utc.timestamp() * 1000),
        "currency_codes": list(schemas.CURRENCY_CODES),
    }


def gx_context():
    """An ephemeral GX context (nothing written to disk), progress bars off (they would flood the run logs)."""
    from orchestration.checks.gx_import import import_great_expectations

    gx = import_great_expectations()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _suite(table: GuardedTable):
    from great_expectations.core import ExpectationSuite

    return ExpectationSuite(**json.loads(json.dumps(dict(table.suite))))


def _result_format(table: GuardedTable) -> dict[str, Any]:
    return {
        "result_format": "SUMMARY",
        "partial_unexpected_count": SAMPLE_KEYS,
        "unexpected_index_column_names": list(table.key_columns),
        "return_unexpected_index_query": False,
    }


def _columns(kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    if "column" in kwargs:
        return (kwargs["column"],)
    if "column_A" in kwargs:
        return (kwargs["column_A"], kwargs["column_B"])
    return tuple(kwargs.get("column_list") or ())


def _plain(value: Any) -> Any:
    """JSON-safe scalars for metadata (numpy numbers, timestamps, NaN)."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        with contextlib.suppress(ValueError, AttributeError):  # numpy scalars -> Python
            value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, int | float | str | bool):
        return value
    return str(value)


def _sample_keys(result: Mapping[str, Any], key_columns: Sequence[str]) -> list[dict[str, Any]]:
    rows = result.get("partial_unexpected_index_list") or []
    samples = []
    for row in rows[:SAMPLE_KEYS]:
        if isinstance(row, Mapping):
            samples.append(
                {k: _plain(row.get(k)) for k in key_columns if k in row} or {k: _plain(v) for k, v in row.items()}
            )
    if not samples:  # no index (e.g. the key column itself): the offending values are the sample
        samples = [{"value": _plain(v)} for v in (result.get("partial_unexpected_list") or [])[:SAMPLE_KEYS]]
    return samples


def _exception_message(result) -> str | None:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for nested in info.values():  # keyed by metric id when a metric failed
        if isinstance(nested, Mapping) and nested.get("raised_exception"):
            return str(nested.get("exception_message"))
    return None


class _Accumulator:
    """Merges the validation results of the chunks of one table, expectation by expectation."""

    def __init__(self, table: GuardedTable) -> None:
        self.table = table
        # keyed by the expectation itself: GX does not keep the suite's order in its results (errors come first)
        self.failures: dict[str, FailedExpectation] = {}

    def add(self, validation) -> None:
        for result in validation.results:
            error = _exception_message(result)
            if result.success and error is None:
                continue
            config = result.expectation_config
            key = json.dumps([config.type, config.kwargs], sort_keys=True, default=str)
            failure = self.failures.get(key)
            if failure is None:
                severity = getattr(config.severity, "value", config.severity)
                failure = FailedExpectation(config.type, _columns(config.kwargs), str(severity) == "critical")
                self.failures[key] = failure
            failure.unexpected_count += int(result.result.get("unexpected_count") or 0)
            room = SAMPLE_KEYS - len(failure.sample_keys)
            if room > 0:
                failure.sample_keys += _sample_keys(result.result, self.table.key_columns)[:room]
            failure.error = failure.error or error

    def outcome(self, engine: str, rows: int) -> SuiteOutcome:
        return SuiteOutcome(
            self.table,
            engine,
            rows_validated=rows,
            evaluated=self.table.expectation_count,
            failures=list(self.failures.values()),
        )


# --- engines ---------------------------------------------------------------------------------------------------------


def _vectorizable_type(arrow_type: pa.DataType) -> pa.DataType | None:
    """The type a column is cast to before validation, or None to keep it.

    GX's pandas range check (expect_column_values_to_be_between) compares whole columns only for int64/float64 and
    datetime64[ns] (or tz-aware) dtypes; any other dtype goes through a per-value Python `Series.map`, ~100x slower.
    Arrow gives timestamp[us], date32, int32 and decimals, so: timestamps and dates -> timestamp[ns], narrower ints ->
    int64, floats -> float64, decimals -> float64 (the suites' bounds are floats anyway). NULLs stay NULL (NaN/NaT).
    """
    if pa.types.is_timestamp(arrow_type):
        return None if arrow_type.unit == "ns" else pa.timestamp("ns", arrow_type.tz)
    if pa.types.is_date(arrow_type):
        return pa.timestamp("ns")
    if pa.types.is_integer(arrow_type):
        return None if arrow_type in (pa.int64(), pa.uint64()) else pa.int64()
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return None if arrow_type == pa.float64() else pa.float64()
    return None


def _arrow_to_pandas(batch: pa.RecordBatch | pa.Table) -> pd.DataFrame:
    """A frame whose dtypes take GX's vectorized paths (see `_vectorizable_type`), values and NULLs unchanged."""
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    for i, f in enumerate(table.schema):
        target = _vectorizable_type(f.type)
        if target is None:
            continue
        # a value outside the target's range (e.g. a date beyond 2262 in ns) keeps its column: GX's slow path copes
        with contextlib.suppress(pa.ArrowInvalid):
            table = table.set_column(i, f.name, pc.cast(table.column(i), target))
    return table.to_pandas(date_as_object=False)


class _DataFrameValidator:
    """DuckDB: each table's rows are read over the shared connection and validated as pandas frames, chunk by chunk."""

    def __init__(self, context, session: WarehouseSession, chunk_rows: int) -> None:
        self.source = context.data_sources.add_pandas(f"pandas_{uuid.uuid4().hex[:8]}")
        self.session = session
        self.chunk_rows = chunk_rows

    def validate(self, table: GuardedTable, sql: str, parameters: Mapping[str, Any]) -> SuiteOutcome:
        suite = _suite(table)
        asset = self.source.add_dataframe_asset(f"{table.suite_name}_{uuid.uuid4().hex[:8]}")
        batch_definition = asset.add_batch_definition_whole_dataframe("chunk")
        accumulator = _Accumulator(table)
        rows = 0
        for chunk in self.session.conn.sql(sql).to_arrow_reader(self.chunk_rows):
            if chunk.num_rows == 0 and rows:
                continue
            frame = _arrow_to_pandas(chunk)
            rows += len(frame)
            batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
            accumulator.add(
                batch.validate(suite, expectation_parameters=dict(parameters), result_format=_result_format(table))
            )
        if rows == 0:  # no chunk at all: validate the empty frame, so the suite still reports (e.g. missing columns)
            empty = _arrow_to_pandas(self.session.conn.sql(sql).limit(0).to_arrow_table())
            batch = batch_definition.get_batch(batch_parameters={"dataframe": empty})
            accumulator.add(
                batch.validate(suite, expectation_parameters=dict(parameters), result_format=_result_format(table))
            )
        return accumulator.outcome("duckdb", rows)

    def close(self) -> None:
        pass


def sqlalchemy_url(postgres_url: str) -> str:
    """GX's SQL datasource needs a SQLAlchemy URL with the psycopg (3) driver."""
    scheme, rest = postgres_url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in ("postgres", "postgresql") else postgres_url


class _SqlValidator:
    """PostgreSQL: one GX SQL datasource (one SQLAlchemy pool) for all tables; GX runs the expectations in SQL."""

    def __init__(self, context, session: WarehouseSession, connection_url: str) -> None:
        self.source = context.data_sources.add_postgres(
            f"postgres_{uuid.uuid4().hex[:8]}", connection_string=sqlalchemy_url(connection_url)
        )
        self.session = session

    def validate(self, table: GuardedTable, sql: str, parameters: Mapping[str, Any]) -> SuiteOutcome:
        rows = self.session.query(f"SELECT count(*) FROM ({sql}) AS scoped")[0][0]
        asset = self.source.add_query_asset(f"{table.suite_name}_{uuid.uuid4().hex[:8]}", query=sql)
        batch = asset.add_batch_definition_whole_table("all").get_batch()
        accumulator = _Accumulator(table)
        accumulator.add(
            batch.validate(_suite(table), expectation_parameters=dict(parameters), result_format=_result_format(table))
        )
        return accumulator.outcome("postgres", int(rows))

    def close(self) -> None:  # GX keeps a SQLAlchemy pool per datasource: close its connections now, not at exit
        self.source.get_engine().dispose()


@contextlib.contextmanager
def _validator(context, warehouse: WarehouseResource, chunk_rows: int) -> Iterator[_DataFrameValidator | _SqlValidator]:
    with warehouse.connect(autocommit=True) as session:  # one statement failing must not abort the next table's
        if warehouse.engine == "duckdb":
            validator = _DataFrameValidator(context, session, chunk_rows)
        elif warehouse.engine == "postgres":
            validator = _SqlValidator(context, session, warehouse.postgres_connection_url)
        else:
            raise ValueError(f"unknown warehouse engine {warehouse.engine!r}")
        try:
            yield validator
        finally:
            validator.close()


def _unreadable(table: GuardedTable, engine: str, exc: Exception) -> SuiteOutcome:
    """The table is missing or unreadable: the check fails and says why."""
    message = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    logger.warning("suite %s could not run: %s", table.suite_name, message)
    return SuiteOutcome(table, engine, evaluated=table.expectation_count, error=message)


def _validate_one(validator, table: GuardedTable, parameters: Mapping[str, Any]) -> SuiteOutcome:
    try:
        columns = validator.session.columns(*table.relation)
        if not columns:
            raise LookupError(f"table {'.'.join(table.relation)} does not exist (or has no columns)")
        latest_load_at = table.latest_load_at(validator.session) if table.scope == "latest_load" else None
        return validator.validate(table, table.select_sql(columns, latest_load_at), parameters)
    except Exception as exc:
        return _unreadable(table, validator.session.engine, exc)


def validate_tables(
    tables: Iterable[GuardedTable],
    warehouse: WarehouseResource,
    *,
    now: dt.datetime | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    context=None,
) -> Iterator[SuiteOutcome]:
    """Validate each table with its suite, in order; an unreadable table is a failed outcome.

    All tables share one warehouse connection and one GX datasource: opening the DuckDB file (or a SQLAlchemy pool)
    per table cost more than validating a small table.
    """
    tables = list(tables)
    parameters = expectation_parameters(now or dt.datetime.now(dt.UTC))
    context = context or gx_context()
    with contextlib.ExitStack() as stack:
        try:
            validator = stack.enter_context(_validator(context, warehouse, chunk_rows))
        except Exception as exc:  # e.g. the warehouse is unreachable: every table's check fails and says why
            yield from (_unreadable(table, warehouse.engine, exc) for table in tables)
            return
        for table in tables:
            yield _validate_one(validator, table, parameters)


def validate_table(
    table: GuardedTable,
    warehouse: WarehouseResource,
    *,
    now: dt.datetime | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    context=None,
) -> SuiteOutcome:
    """Validate one table (see `validate_tables`)."""
    [outcome] = validate_tables([table], warehouse, now=now, chunk_rows=chunk_rows, context=context)
    return outcome
