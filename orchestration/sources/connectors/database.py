"""Database-mode connectors: a DuckDB file (the demo sources) or a PostgreSQL database (a real deployment)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from orchestration.extract.tables import sql_type
from orchestration.resources.warehouse import quote
from orchestration.sources.schemas import SourceTable


def _select(
    table: SourceTable,
    column_exprs: list[str],
    lower_bound: tuple[str, object] | None,
    cast_bound_to: str | None,
    database: str | None = None,
) -> str:
    """SELECT of the contract columns; the cursor bound is cast only when the source stores the column as text."""
    where = ""
    if lower_bound:
        column = quote(lower_bound[0])
        where = f" WHERE {f'TRY_CAST({column} AS {cast_bound_to})' if cast_bound_to else column} >= $1"
    source = f"{quote(database)}.main.{quote(table.name)}" if database else quote(table.name)
    return f"SELECT {', '.join(column_exprs)} FROM {source}{where}"


class DuckDBFileConnector:
    """Reads a source-shaped DuckDB file (opened READ_ONLY, so the writer of the file is never blocked for long)."""

    def __init__(self, path: str | Path, label: str = "database") -> None:
        import duckdb

        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"source database {self.path} does not exist")
        self.label = label
        self._conn = duckdb.connect(str(self.path), read_only=True)

    def _column_types(self, table: SourceTable) -> dict[str, str]:
        rows = self._conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE lower(table_name) = lower($1) "
            "ORDER BY ordinal_position",
            [table.name],
        ).fetchall()
        if not rows:
            raise LookupError(f"source {table.system!r}: table {table.name!r} not found in {self.path}")
        return dict(rows)

    def source_columns(self, table: SourceTable) -> list[str]:
        return list(self._column_types(table))

    def read(
        self, table: SourceTable, lower_bound: tuple[str, object] | None = None, batch_rows: int = 250_000
    ) -> pa.RecordBatchReader:
        _, sql, params = self.attachable_select(table, lower_bound)
        return self._conn.sql(sql, params=params).to_arrow_reader(batch_rows)

    def attachable_select(
        self, table: SourceTable, lower_bound: tuple[str, object] | None = None, database: str | None = None
    ) -> tuple[Path, str, list | None]:
        """(file, SELECT, params) of `read`, for a DuckDB warehouse that ATTACHes the file as `database`.

        Reading inside the warehouse's own DuckDB skips the Arrow stream, which a DuckDB consumer can
        only drain serially (bench/README.md: ~2 s of a 1M-row extraction).
        """
        cast_to = None
        if lower_bound and self._column_types(table).get(lower_bound[0]) == "VARCHAR":
            cast_to = sql_type(table.column(lower_bound[0]).type, "duckdb")
        sql = _select(table, [quote(c) for c in table.column_names], lower_bound, cast_to, database)
        return self.path, sql, [lower_bound[1]] if lower_bound else None

    def close(self) -> None:
        self._conn.close()


# PostgreSQL types that ADBC hands over as opaque extension columns: read them as the contract type.
_CAST_AT_SOURCE = {"json", "jsonb", "numeric", "uuid", "USER-DEFINED", "ARRAY", "inet", "timestamp with time zone"}
_PG_TYPES = {
    "string": "text",
    "int32": "integer",
    "int64": "bigint",
    "double": "double precision",
    "bool": "boolean",
    "date32[day]": "date",
    "timestamp[us]": "timestamp",
}


class PostgresConnector:
    """Reads a PostgreSQL source database through ADBC (Arrow end to end)."""

    def __init__(self, url: str, label: str = "database", db_schema: str = "public") -> None:
        import adbc_driver_postgresql.dbapi as adbc_pg

        self.label = label
        self.db_schema = db_schema
        self._conn: Any = adbc_pg.connect(url)
        self._cursors: list[Any] = []  # a reader lives only as long as its cursor

    def _column_types(self, table: SourceTable) -> dict[str, str]:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                parameters=[self.db_schema, table.name],
            )
            rows = cur.fetchall()
        if not rows:
            raise LookupError(f"source {table.system!r}: table {self.db_schema}.{table.name} not found")
        return dict(rows)

    def source_columns(self, table: SourceTable) -> list[str]:
        return list(self._column_types(table))

    def read(
        self, table: SourceTable, lower_bound: tuple[str, object] | None = None, batch_rows: int = 250_000
    ) -> pa.RecordBatchReader:
        types = self._column_types(table)
        exprs = []
        for column in table.columns:
            if types.get(column.name) in _CAST_AT_SOURCE:
                # timestamptz -> UTC wall clock, like the sources' own timestamp columns
                value = quote(column.name)
                if types[column.name] == "timestamp with time zone":
                    value = f"({value} AT TIME ZONE 'UTC')"
                exprs.append(f"CAST({value} AS {_PG_TYPES[str(column.type)]}) AS {quote(column.name)}")
            else:
                exprs.append(quote(column.name))
        cur = self._conn.cursor()
        self._cursors.append(cur)
        cast_to = None
        if lower_bound and types.get(lower_bound[0]) in ("text", "character varying"):
            cast_to = _PG_TYPES[str(table.column(lower_bound[0]).type)]
        cur.execute(_select(table, exprs, lower_bound, cast_to), parameters=[lower_bound[1]] if lower_bound else None)
        return cur.fetch_record_batch()

    def close(self) -> None:
        for cur in self._cursors:
            cur.close()
        self._conn.close()


def database_connector(location: str | Path, label: str = "database") -> DuckDBFileConnector | PostgresConnector:
    """A connector for a `postgresql://` URL, a `duckdb:///path` URL or a plain DuckDB file path."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresConnector(text, label)
    if text.startswith("duckdb://"):
        text = text.removeprefix("duckdb://")
    return DuckDBFileConnector(text, label)
