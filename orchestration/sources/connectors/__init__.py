"""Connectors read source entities as Arrow record batches, selecting contract columns by name.

Every connector answers two questions, so the one loader (orchestration.extract) serves them all:
`source_columns(table)` (for schema-drift checks) and `read(table, lower_bound)` (a RecordBatchReader
of the contract columns, optionally only rows whose first cursor column is >= the bound).
"""

from typing import Any

from orchestration.sources.connectors.base import SourceConnector

__all__ = ["DuckDBFileConnector", "PostgresConnector", "SourceConnector", "database_connector"]


def __getattr__(name: str) -> Any:
    """The database connectors (pyarrow, the loader's duckdb) load on first use: loading the code location imports
    this package for `remote`'s option checks only (orchestration/lazy.py)."""
    if name in ("DuckDBFileConnector", "PostgresConnector", "database_connector"):
        from orchestration.sources.connectors import database

        return getattr(database, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
