"""Warehouse I/O for every layer: one resource, DuckDB (embedded) or PostgreSQL.

Connections are short-lived: DuckDB allows one writing process per file and dbt runs in a
subprocess on the same file, so nothing keeps a connection open between calls.

SQL placeholders are `$1, $2, ...` on both engines (DuckDB and the ADBC PostgreSQL driver).
Engine-specific code lives only here: `WarehouseSession` hides connection, transactions and
the native Arrow bulk path (DuckDB: insert from Arrow; PostgreSQL: ADBC ingest = COPY binary).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as quote_url

from dagster import ConfigurableResource, EnvVar

from orchestration.lazy import lazy_module

if TYPE_CHECKING:
    from typing import TypeAlias

    import pandas as pd

    from orchestration.settings import Settings

# Deferred: only executing assets needs them, not loading the code location (orchestration/lazy.py).
pa = lazy_module("pyarrow")
pc = lazy_module("pyarrow.compute")

if TYPE_CHECKING:
    ArrowData: TypeAlias = pa.Table | pa.RecordBatchReader | pa.RecordBatch


def quote(identifier: str) -> str:
    """Quote an identifier so both engines keep its case (`"startTime"`) and reserved words (`"user"`) work."""
    return '"' + identifier.replace('"', '""') + '"'


def timestamp_literal(value: dt.datetime) -> str:
    """A naive datetime as a SQL TIMESTAMP literal, the same text on DuckDB and PostgreSQL."""
    return f"CAST('{value.isoformat(sep=' ')}' AS TIMESTAMP)"


def qualified(schema: str | None, name: str) -> str:
    return f"{quote(schema)}.{quote(name)}" if schema else quote(name)


class WarehouseSession:
    """One open connection inside one transaction (commit on success, rollback on error)."""

    engine: str

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> int:
        """Run a statement; returns the affected row count (-1 when the engine does not say)."""
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        raise NotImplementedError

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        raise NotImplementedError

    def bulk_load(self, schema: str | None, name: str, data: ArrowData, *, create_temp: bool = False) -> int:
        """Append Arrow data through the engine's native bulk path (columns matched by name).

        `create_temp=True` creates `name` as a temporary table shaped like the data first.
        """
        raise NotImplementedError

    def table_exists(self, schema: str, name: str) -> bool:
        rows = self.query(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2",
            [schema, name],
        )
        return rows[0][0] > 0

    def columns(self, schema: str, name: str) -> list[str]:
        rows = self.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 "
            "ORDER BY ordinal_position",
            [schema, name],
        )
        return [r[0] for r in rows]


def _as_reader(data: ArrowData) -> pa.RecordBatchReader | pa.Table:
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    return data


class DuckDBSession(WarehouseSession):
    engine = "duckdb"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> int:
        cur = self.conn.execute(sql, params) if params is not None else self.conn.execute(sql)
        # DuckDB returns the affected row count as a one-row result for DML statements.
        try:
            row = cur.fetchone()
        except Exception:  # DDL has no result set
            return -1
        return int(row[0]) if row and len(row) == 1 and isinstance(row[0], int) else -1

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall() if params is not None else self.conn.execute(sql).fetchall()

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        return self.conn.sql(sql, params=params).to_arrow_table()

    def bulk_load(self, schema: str | None, name: str, data: ArrowData, *, create_temp: bool = False) -> int:
        view = f"__arrow_{uuid.uuid4().hex[:12]}"
        self.conn.register(view, _as_reader(data))
        try:
            if create_temp:
                return self.execute(f"CREATE TEMP TABLE {qualified(schema, name)} AS SELECT * FROM {quote(view)}")
            return self.execute(f"INSERT INTO {qualified(schema, name)} BY NAME SELECT * FROM {quote(view)}")
        finally:
            self.conn.unregister(view)


def _postgres_numeric_to_float(table: pa.Table) -> pa.Table:
    """ADBC returns PostgreSQL numeric as an opaque string column; give callers numbers."""
    for i, f in enumerate(table.schema):
        if isinstance(f.type, pa.ExtensionType) or f.type.__class__.__name__ == "OpaqueType":
            storage = table.column(i)
            storage = pa.chunked_array([c.storage for c in storage.chunks], type=f.type.storage_type)
            type_name = getattr(f.type, "type_name", "")
            values = pc.cast(storage, pa.float64()) if type_name == "numeric" else storage
            table = table.set_column(i, pa.field(f.name, values.type), values)
    return table


class PostgresSession(WarehouseSession):
    engine = "postgres"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> int:
        with self.conn.cursor() as cur:
            if params is None:  # the DB-API cursor does not report row counts; the ADBC statement does
                cur.adbc_statement.set_sql_query(sql)
                return cur.adbc_statement.execute_update()
            cur.execute(sql, parameters=params)
            return cur.rowcount

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, parameters=params)
            return cur.fetchall()

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        with self.conn.cursor() as cur:
            cur.execute(sql, parameters=params)
            return _postgres_numeric_to_float(cur.fetch_arrow_table())

    def bulk_load(self, schema: str | None, name: str, data: ArrowData, *, create_temp: bool = False) -> int:
        # adbc_ingest streams the Arrow data with COPY ... FROM STDIN (FORMAT binary).
        with self.conn.cursor() as cur:
            if create_temp:
                return cur.adbc_ingest(name, _as_reader(data), mode="create", temporary=True)
            return cur.adbc_ingest(name, _as_reader(data), mode="append", db_schema_name=schema)


class WarehouseResource(ConfigurableResource):
    """Warehouse I/O shared by the whole project (usable outside Dagster: `WarehouseResource.from_settings`).

    The PostgreSQL password is not part of `postgres_url`: read from the environment, it is passed as
    `EnvVar(settings.postgres.password_env)`, which Dagster resolves when the resource is initialised (its config
    shows the variable's name, never the value).
    """

    engine: str = "duckdb"
    duckdb_path: str = ""
    postgres_url: str = ""  # without the password
    postgres_password: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        if settings.warehouse != "postgres":
            return cls(engine=settings.warehouse, duckdb_path=str(settings.duckdb_path))
        pg = settings.postgres
        return cls(
            engine=settings.warehouse,
            duckdb_path=str(settings.duckdb_path),
            postgres_url=replace(pg, password="").url,
            postgres_password=EnvVar(pg.password_env) if pg.password_env else pg.password,
        )

    @property
    def postgres_connection_url(self) -> str:
        """`postgres_url` with the password, for the drivers only (never log it)."""
        password = self.postgres_password
        if isinstance(password, EnvVar):  # called outside a Dagster run: nothing has resolved the variable yet
            password = password.get_value("") or ""
        if not password:
            return self.postgres_url
        scheme, rest = self.postgres_url.split("://", 1)
        user, host = rest.split("@", 1) if "@" in rest else ("", rest)
        return f"{scheme}://{user}:{quote_url(password, safe='')}@{host}"

    @contextmanager
    def connect(self, *, autocommit: bool = False) -> Iterator[WarehouseSession]:
        """A short-lived session in one transaction: committed when the block ends, rolled back on error.

        `autocommit=True`: no enclosing transaction, each statement stands alone, so a failed one does not abort
        the next (for readers going through many tables on one connection).
        """
        if self.engine == "duckdb":
            import duckdb

            Path(self.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
            conn = duckdb.connect(self.duckdb_path)
            try:
                if not autocommit:
                    conn.begin()
                yield DuckDBSession(conn)
                if not autocommit:
                    conn.commit()
            except BaseException:
                if not autocommit:
                    conn.rollback()
                raise
            finally:
                conn.close()
        elif self.engine == "postgres":
            import adbc_driver_postgresql.dbapi as adbc_pg

            conn = adbc_pg.connect(self.postgres_connection_url, autocommit=autocommit)
            try:
                yield PostgresSession(conn)
                if not autocommit:
                    conn.commit()
            except BaseException:
                if not autocommit:
                    conn.rollback()
                raise
            finally:
                conn.close()
        else:
            raise ValueError(f"unknown warehouse engine {self.engine!r}")

    # --- one-shot helpers (each opens and closes its own connection) ----------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> int:
        with self.connect() as session:
            return session.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        with self.connect() as session:
            return session.query(sql, params)

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        with self.connect() as session:
            return session.query_arrow(sql, params)

    def query_df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Query into pandas; decimals arrive as float64 on both engines."""
        table = self.query_arrow(sql, params)
        decimals = [i for i, f in enumerate(table.schema) if pa.types.is_decimal(f.type)]
        for i in decimals:
            table = table.set_column(i, table.schema[i].name, pc.cast(table.column(i), pa.float64()))
        return table.to_pandas()

    def table_exists(self, schema: str, name: str) -> bool:
        with self.connect() as session:
            return session.table_exists(schema, name)

    def ensure_schema(self, schema: str) -> None:
        with self.connect() as session:
            session.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")

    def write_table(self, schema: str, name: str, table: pa.Table | pd.DataFrame) -> int:
        """Atomically replace `schema.name` with `table` (readers see the old or the new table, never half)."""
        if not isinstance(table, pa.Table):
            table = pa.Table.from_pandas(table, preserve_index=False)
        with self.connect() as session:
            session.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
            target = qualified(schema, name)
            if self.engine == "duckdb":
                session.conn.register("__write_table", table)
                try:
                    session.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM __write_table")
                finally:
                    session.conn.unregister("__write_table")
            else:
                new_name = f"{name}__new"[:63]
                session.execute(f"DROP TABLE IF EXISTS {qualified(schema, new_name)}")
                with session.conn.cursor() as cur:
                    cur.adbc_ingest(new_name, table, mode="create", db_schema_name=schema)
                session.execute(f"DROP TABLE IF EXISTS {target}")
                session.execute(f"ALTER TABLE {qualified(schema, new_name)} RENAME TO {quote(name)}")
        return table.num_rows
