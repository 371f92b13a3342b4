"""Connectors read source entities as Arrow record batches, selecting contract columns by name.

Every connector answers two questions, so the one loader (orchestration.extract) serves them all:
`source_columns(table)` (for schema-drift checks) and `read(table, lower_bound)` (a RecordBatchReader
of the contract columns, optionally only rows whose first cursor column is >= the bound).
"""

from orchestration.sources.connectors.base import SourceConnector
from orchestration.sources.connectors.database import DuckDBFileConnector, PostgresConnector, database_connector

__all__ = ["DuckDBFileConnector", "PostgresConnector", "SourceConnector", "database_connector"]
