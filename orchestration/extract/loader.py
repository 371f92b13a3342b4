"""The one loader from source rows (Arrow) into `raw`: validate, stage, merge, rejects, cursor.

Everything for one entity happens in ONE warehouse transaction: stage the rows through the
engine's native bulk path, merge them set-based on the primary key (new keys inserted, keys whose
`_record_hash` changed replaced, unchanged rows left alone so `_loaded_at` stays), record rejects
and advance the cursor. A crash anywhere leaves the previous state; a rerun converges.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.extract.contract import (
    PAYLOAD,
    RECORD_HASH,
    RECORD_KEY,
    REJECT_FIELD,
    REJECT_REASON,
    check_columns,
    validation_sql,
)
from orchestration.extract.state import Cursor, cursor_key, lower_bound, read_cursor, write_cursor
from orchestration.extract.tables import (
    RAW_SCHEMA,
    REJECTS_TABLE,
    ensure_loaded_at_index,
    ensure_raw_table,
    loaded_at_index,
    raw_columns,
)
from orchestration.resources.warehouse import (
    WarehouseResource,
    WarehouseSession,
    qualified,
    quote,
    timestamp_literal,
)
from orchestration.sources.connectors.base import SourceConnector
from orchestration.sources.schemas import SourceTable

STAGE = "_extract_stage"
GOOD = "_extract_good"
REJECTS = "_extract_rejects"
PRESENT_KEYS = "_extract_present_keys"
SOURCE_RELATION = "__source_rows"
CONFLICTING_DUPLICATE = "duplicate key with conflicting content"


@dataclass
class ExtractResult:
    """What one extraction did; `rows_received == rows_loaded + rows_rejected`."""

    source: str
    entity: str
    raw_table: str
    source_label: str
    rows_received: int = 0
    rows_loaded: int = 0  # accepted rows: inserted + updated + unchanged + duplicates_collapsed
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    duplicates_collapsed: int = 0
    rows_rejected: int = 0
    rows_deleted: int = 0  # snapshot entities: keys that vanished from the source
    rows_restored: int = 0  # snapshot entities: keys that came back
    cursor_before: Cursor | None = None
    cursor_after: Cursor | None = None
    extra_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, object]:
        def show(cursor: Cursor | None) -> dict[str, str] | None:
            return None if cursor is None else {k: str(v) for k, v in cursor.items()}

        return {
            "source": self.source_label,
            "rows_received": self.rows_received,
            "rows_loaded": self.rows_loaded,
            "rows_inserted": self.rows_inserted,
            "rows_updated": self.rows_updated,
            "rows_unchanged": self.rows_unchanged,
            "duplicates_collapsed": self.duplicates_collapsed,
            "rows_rejected": self.rows_rejected,
            "rows_deleted": self.rows_deleted,
            "rows_restored": self.rows_restored,
            "cursor_before": show(self.cursor_before),
            "cursor_after": show(self.cursor_after),
            "unexpected_columns": self.extra_columns,
            "notes": self.notes,
        }


def extract_table(
    warehouse: WarehouseResource,
    connector: SourceConnector,
    table: SourceTable,
    *,
    run_id: str | None = None,
    now: dt.datetime | None = None,
    batch_rows: int = 250_000,
) -> ExtractResult:
    """Read `table` from a connector from the stored cursor (minus lookback) and merge it into raw."""
    extra = check_columns(table, connector.source_columns(table), connector.label)
    with warehouse.connect() as session:
        ensure_raw_table(session, table)
        cursor_before = read_cursor(session, table)
        bound = lower_bound(table, cursor_before)
        attachable = getattr(connector, "attachable_select", None)
        if session.engine == "duckdb" and attachable is not None:
            alias = f"__source_{uuid.uuid4().hex[:8]}"
            source: pa.RecordBatchReader | _AttachedSource = _AttachedSource(alias, *attachable(table, bound, alias))
        else:
            source = connector.read(table, bound, batch_rows)
        result = _load(session, table, source, connector.label, cursor_before, run_id, now, batch_rows)
    if extra:
        result.extra_columns = extra
        result.notes.append(f"unexpected source column(s) not loaded: {', '.join(extra)}")
    return result


def load_batches(
    warehouse: WarehouseResource,
    table: SourceTable,
    data: pa.RecordBatchReader | pa.Table | Iterable[pa.RecordBatch],
    *,
    source_label: str,
    run_id: str | None = None,
    now: dt.datetime | None = None,
    batch_rows: int = 250_000,
) -> ExtractResult:
    """Merge already-read source rows into raw (entry point for REST and file connectors).

    Columns are matched by name: a missing contract column is a SchemaDriftError, extra ones are
    reported and ignored.
    """
    reader = _as_reader(data)
    extra = check_columns(table, reader.schema.names, source_label)
    with warehouse.connect() as session:
        ensure_raw_table(session, table)
        cursor_before = read_cursor(session, table)
        result = _load(session, table, reader, source_label, cursor_before, run_id, now, batch_rows)
    if extra:
        result.extra_columns = extra
        result.notes.append(f"unexpected source column(s) not loaded: {', '.join(extra)}")
    return result


def _as_reader(data: pa.RecordBatchReader | pa.Table | Iterable[pa.RecordBatch]) -> pa.RecordBatchReader:
    if isinstance(data, pa.RecordBatchReader):
        return data
    if isinstance(data, pa.Table):
        return data.to_reader()
    batches = list(data)
    if not batches:
        raise ValueError("load_batches needs at least one batch (or a Table/RecordBatchReader carrying a schema)")
    return pa.RecordBatchReader.from_batches(batches[0].schema, batches)


@dataclass(frozen=True)
class _AttachedSource:
    """A DuckDB-file source read by a DuckDB warehouse in place (ATTACH ... READ_ONLY)."""

    alias: str
    path: Path
    sql: str  # over the file attached as `alias`
    params: list | None


def _create_stage(stage: _StageConnection, table: SourceTable, source: pa.RecordBatchReader | _AttachedSource) -> None:
    """Validate the source rows into the stage table (one streaming pass)."""
    if isinstance(source, _AttachedSource):
        path = str(source.path).replace("'", "''")
        # Attached for the rest of this short-lived session: DuckDB cannot DETACH inside the transaction.
        stage.execute(f"ATTACH '{path}' AS {quote(source.alias)} (READ_ONLY)")
        relation = f"({source.sql}) AS __source_rows"
        schema = stage.conn.sql(f"SELECT * FROM {relation} LIMIT 0", params=source.params).to_arrow_table().schema
        stage.conn.execute(f"CREATE TEMP TABLE {STAGE} AS {validation_sql(table, relation, schema)}", source.params)
        return
    stage.conn.register(SOURCE_RELATION, source)
    try:
        stage.execute(f"CREATE TEMP TABLE {STAGE} AS {validation_sql(table, SOURCE_RELATION, source.schema)}")
    finally:
        stage.conn.unregister(SOURCE_RELATION)


def _load(
    session: WarehouseSession,
    table: SourceTable,
    reader: pa.RecordBatchReader | _AttachedSource,
    source_label: str,
    cursor_before: Cursor | None,
    run_id: str | None,
    now: dt.datetime | None,
    batch_rows: int,
) -> ExtractResult:
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    run_id = run_id or uuid.uuid4().hex
    result = ExtractResult(table.system, table.name, f"{RAW_SCHEMA}.{table.raw_name}", source_label)
    result.cursor_before = cursor_before
    with _stage_connection(session) as stage:
        _create_stage(stage, table, reader)
        staged = _Staged(stage, table)
        result.rows_received, good, distinct_good = staged.counts()
        losers = staged.resolve_duplicates(good, distinct_good)
        result.rows_rejected = result.rows_received - good + losers
        result.rows_loaded = good - losers
        result.duplicates_collapsed = good - losers - distinct_good
        result.cursor_after = _advance_cursor(stage, table, cursor_before, result.notes)
        merge = _Merge(session, table, now, source_label)
        staged.publish(session, merge, has_duplicates=distinct_good < good - losers, batch_rows=batch_rows)

    result.rows_updated, written = merge.merge()
    result.rows_inserted = written - result.rows_updated
    result.rows_unchanged = distinct_good - written
    if table.mode == "snapshot":
        if result.rows_received == 0:
            result.notes.append("empty snapshot from the source: deletions not applied")
        else:
            result.rows_restored, result.rows_deleted = merge.apply_snapshot_deletes()
    if session.engine == "postgres" and (written or result.rows_deleted or result.rows_restored):
        # Statistics now, not when autovacuum gets to it (after 10 % of the table changed): a day's rows on a large
        # table are a new `_loaded_at` value the planner would estimate at ~1 row, and the quality checks of the
        # latest load then run nested loops over it (24 s instead of 1 s for 12k of 3.5M spend logs).
        session.execute(f"ANALYZE {merge.target}")
    merge.record_rejects(run_id)
    write_cursor(session, table, result.cursor_after, result.rows_received, now, run_id)
    merge.drop_published()
    return result


class _StageConnection:
    """The DuckDB connection that validates and stages: the warehouse's own (DuckDB) or an in-memory one."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)

    def query(self, sql: str) -> list[tuple]:
        return self.conn.execute(sql).fetchall()


@contextmanager
def _stage_connection(session: WarehouseSession) -> Iterator[_StageConnection]:
    if session.engine == "duckdb":
        yield _StageConnection(session.conn)
        return
    with tempfile.TemporaryDirectory(prefix="extract_stage_") as spill:
        conn = duckdb.connect(config={"temp_directory": spill})
        try:
            yield _StageConnection(conn)
        finally:
            conn.close()


class _Staged:
    """Counts, duplicate resolution and the good/reject/key sets, computed in DuckDB over the stage."""

    def __init__(self, stage: _StageConnection, table: SourceTable) -> None:
        self.stage = stage
        self.table = table

    def counts(self) -> tuple[int, int, int]:
        """(rows received, good rows, distinct keys among good rows), in one scan of the stage."""
        keys = ", ".join(quote(k) for k in self.table.primary_key)
        key = keys if len(self.table.primary_key) == 1 else f"({keys})"
        received, good, distinct = self.stage.query(
            f"SELECT count(*), count(*) FILTER (WHERE {REJECT_REASON} IS NULL), "
            f"count(DISTINCT {key}) FILTER (WHERE {REJECT_REASON} IS NULL) FROM {STAGE}"
        )[0]
        return received, good, distinct

    def _key_match(self, left: str, right: str) -> str:
        return " AND ".join(f"{left}.{quote(k)} = {right}.{quote(k)}" for k in self.table.primary_key)

    def resolve_duplicates(self, good: int, distinct: int) -> int:
        """Reject conflicting versions of a key (keep the last by cursor order); returns how many lost."""
        if distinct == good:
            return 0
        order = [*(quote(c) for c in self.table.cursor), RECORD_HASH]
        newer = " OR ".join(
            "(" + " AND ".join([*(f"w.{o} = s.{o}" for o in order[:i]), f"w.{order[i]} > s.{order[i]}"]) + ")"
            for i in range(len(order))
        )
        payload = ", ".join(f"{quote(c.name)} := s.{quote(c.name)}" for c in self.table.columns)
        record_key = " || '|' || ".join(f"CAST(s.{quote(k)} AS VARCHAR)" for k in self.table.primary_key)
        # Losers are found before any row is marked, so marking cannot change who loses.
        self.stage.execute(
            f"UPDATE {STAGE} AS s SET {REJECT_REASON} = '{CONFLICTING_DUPLICATE}', "
            f"{REJECT_FIELD} = '{self.table.primary_key[0]}', {RECORD_KEY} = {record_key}, "
            f"{PAYLOAD} = CAST(to_json(struct_pack({payload})) AS VARCHAR) "
            f"FROM (SELECT DISTINCT {', '.join(f'l.{quote(k)}' for k in self.table.primary_key)}, l.{RECORD_HASH} "
            f"FROM {STAGE} AS l "
            f"WHERE l.{REJECT_REASON} IS NULL AND EXISTS (SELECT 1 FROM {STAGE} AS w "
            f"WHERE w.{REJECT_REASON} IS NULL AND {self._key_match('w', 'l')} "
            f"AND w.{RECORD_HASH} <> l.{RECORD_HASH} AND ({newer.replace('s.', 'l.')}))) AS loser "
            f"WHERE s.{REJECT_REASON} IS NULL AND {self._key_match('loser', 's')} "
            f"AND loser.{RECORD_HASH} = s.{RECORD_HASH}"
        )
        losers = self.stage.query(f"SELECT count(*) FROM {STAGE} WHERE {REJECT_REASON} = '{CONFLICTING_DUPLICATE}'")
        return losers[0][0]

    def _relations(self, has_duplicates: bool) -> dict[str, str]:
        cols = ", ".join(quote(c.name) for c in self.table.columns)
        distinct = "DISTINCT " if has_duplicates else ""
        keys = ", ".join(quote(k) for k in self.table.primary_key)
        reject_id = (
            f"md5(concat_ws(chr(31), '{self.table.system}', '{self.table.name}', coalesce({RECORD_KEY}, ''), "
            f"{REJECT_REASON}, coalesce({PAYLOAD}, '')))"
        )
        relations = {
            GOOD: f"SELECT {distinct}{cols}, {RECORD_HASH} FROM {STAGE} WHERE {REJECT_REASON} IS NULL",
            REJECTS: f"SELECT DISTINCT {reject_id} AS reject_id, {RECORD_KEY} AS record_key, {REJECT_FIELD} AS field, "
            f"{REJECT_REASON} AS reason, {PAYLOAD} AS payload FROM {STAGE} WHERE {REJECT_REASON} IS NOT NULL",
        }
        if self.table.mode == "snapshot":
            not_null = " AND ".join(f"{quote(k)} IS NOT NULL" for k in self.table.primary_key)
            relations[PRESENT_KEYS] = f"SELECT DISTINCT {keys} FROM {STAGE} WHERE {not_null}"
        return relations

    def publish(self, session: WarehouseSession, merge: _Merge, *, has_duplicates: bool, batch_rows: int) -> None:
        """Make the good rows, rejects (and snapshot keys) visible to the warehouse session.

        DuckDB: temp views on its own stage. PostgreSQL: streamed with COPY (ADBC) into temp tables,
        or, on a first load into an empty raw table, straight into raw (nothing to merge with).
        """
        relations = self._relations(has_duplicates)
        if session.engine == "duckdb":
            for name, sql in relations.items():
                self.stage.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")
            return
        if merge.target_is_empty():
            select = ", ".join(f"{expr} AS {quote(col)}" for col, expr in merge.insert_columns().items())
            rows = self.stage.conn.sql(f"SELECT {select} FROM ({relations.pop(GOOD)}) AS s")
            # Building the indexes once after COPY beats maintaining them row by row (PostgreSQL docs,
            # "Populating a Database"); the table is empty and locked by this transaction meanwhile.
            constraint = quote(f"{self.table.raw_name}_pkey"[:63])
            keys = ", ".join(quote(k) for k in self.table.primary_key)
            index = loaded_at_index(self.table)
            session.execute(f"ALTER TABLE {merge.target} DROP CONSTRAINT {constraint}")
            if index:
                session.execute(f"DROP INDEX {quote(RAW_SCHEMA)}.{index}")
            merge.direct_written = session.bulk_load(RAW_SCHEMA, self.table.raw_name, rows.to_arrow_reader(batch_rows))
            session.execute(f"ALTER TABLE {merge.target} ADD CONSTRAINT {constraint} PRIMARY KEY ({keys})")
            ensure_loaded_at_index(session, self.table)
            session.execute(f"CREATE TEMP TABLE {GOOD} AS SELECT * FROM {merge.target} WHERE false")
        for name, sql in relations.items():
            session.bulk_load(None, name, self.stage.conn.sql(sql).to_arrow_reader(batch_rows), create_temp=True)
            session.execute(f"ANALYZE {name}")  # temp tables get no autovacuum statistics


class _Merge:
    """Set-based SQL shared by both engines, from the published good rows into raw."""

    def __init__(self, session: WarehouseSession, table: SourceTable, now: dt.datetime, source_label: str) -> None:
        self.session = session
        self.table = table
        self.target = qualified(RAW_SCHEMA, table.raw_name)
        self.now = timestamp_literal(now)
        self.source_label = "'" + source_label.replace("'", "''") + "'"
        self.direct_written: int | None = None  # rows bulk-loaded straight into an empty raw table

    def _key_match(self, left: str, right: str) -> str:
        return " AND ".join(f"{left}.{quote(k)} = {right}.{quote(k)}" for k in self.table.primary_key)

    def target_is_empty(self) -> bool:
        return not self.session.query(f"SELECT 1 FROM {self.target} LIMIT 1")

    def insert_columns(self) -> dict[str, str]:
        """raw column -> expression over the good rows `s`."""
        exprs = {c.name: f"s.{quote(c.name)}" for c in self.table.columns}
        exprs |= {"_loaded_at": self.now, "_source": self.source_label, "_record_hash": f"s.{RECORD_HASH}"}
        if self.table.mode == "snapshot":
            exprs["_deleted_at"] = "CAST(NULL AS TIMESTAMP)"
        assert list(exprs) == [c.name for c in raw_columns(self.table)]
        return exprs

    def merge(self) -> tuple[int, int]:
        """Replace changed keys and insert new ones; returns (rows replaced, rows written)."""
        if self.direct_written is not None:
            return 0, self.direct_written
        columns = self.insert_columns()
        insert = (
            f"INSERT INTO {self.target} ({', '.join(quote(c) for c in columns)}) SELECT {', '.join(columns.values())} "
        )
        if self.target_is_empty():  # first load: nothing to compare with
            return 0, self.session.execute(f"{insert} FROM {GOOD} AS s")
        changed = self.session.execute(
            f"DELETE FROM {self.target} AS r WHERE EXISTS (SELECT 1 FROM {GOOD} AS s "
            f"WHERE {self._key_match('s', 'r')} AND s.{RECORD_HASH} <> r.{RECORD_HASH})"
        )
        written = self.session.execute(
            f"{insert} FROM {GOOD} AS s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {self.target} AS r WHERE {self._key_match('r', 's')})"
        )
        return changed, written

    def apply_snapshot_deletes(self) -> tuple[int, int]:
        """Keys back in the snapshot lose `_deleted_at`; keys missing from it get one. Returns (restored, deleted)."""
        restored = self.session.execute(
            f"UPDATE {self.target} AS r SET _deleted_at = NULL WHERE r._deleted_at IS NOT NULL AND EXISTS ("
            f"SELECT 1 FROM {GOOD} AS s WHERE {self._key_match('s', 'r')})"
        )
        # Rejected rows still exist at the source, so any staged key counts as present.
        deleted = self.session.execute(
            f"UPDATE {self.target} AS r SET _deleted_at = {self.now} WHERE r._deleted_at IS NULL AND NOT EXISTS ("
            f"SELECT 1 FROM {PRESENT_KEYS} AS s WHERE {self._key_match('s', 'r')})"
        )
        return restored, deleted

    def record_rejects(self, run_id: str) -> int:
        """Append this run's rejects; a deterministic id keeps a re-read from duplicating them."""
        target = qualified(RAW_SCHEMA, REJECTS_TABLE)
        return self.session.execute(
            f"INSERT INTO {target} "
            "(reject_id, source, entity, record_key, field, reason, payload, rejected_at, run_id) "
            f"SELECT x.reject_id, '{self.table.system}', '{self.table.name}', x.record_key, x.field, x.reason, "
            f"x.payload, {self.now}, $1 FROM {REJECTS} AS x "
            f"WHERE NOT EXISTS (SELECT 1 FROM {target} AS r WHERE r.reject_id = x.reject_id)",
            [run_id],
        )

    def drop_published(self) -> None:
        kind = "VIEW" if self.session.engine == "duckdb" else "TABLE"
        for name in (GOOD, REJECTS, PRESENT_KEYS):
            self.session.execute(f"DROP {kind} IF EXISTS {name}")
        self.session.execute(f"DROP TABLE IF EXISTS {STAGE}")


def _advance_cursor(
    session: _StageConnection, table: SourceTable, before: Cursor | None, notes: list[str]
) -> Cursor | None:
    """The newest cursor seen in this read; the cursor never moves back."""
    if not table.cursor:
        return None
    first, *rest = (quote(c) for c in table.cursor)
    tail = "".join(f", max({c})" for c in rest)
    rows = session.query(
        f"SELECT {first}{tail} FROM {STAGE} WHERE {first} = (SELECT max({first}) FROM {STAGE}) GROUP BY {first}"
    )
    if not rows:
        return before
    seen = dict(zip(table.cursor, rows[0], strict=True))
    if before is not None and cursor_key(table, seen) < cursor_key(table, before):
        notes.append(f"source max cursor {seen} is behind the stored cursor {before}: cursor kept")
        return before
    return seen
