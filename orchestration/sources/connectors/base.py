"""What the loader needs from any connector (database today; REST and file drops plug in the same way)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from orchestration.sources.schemas import SourceTable


class SourceConnector(Protocol):
    # written to raw `_source`, e.g. "demo" or "database"
    label: str

    def source_columns(self, table: SourceTable) -> list[str]:
        """Column names the source currently has for `table` (raises if the table itself is missing)."""
        ...

    def read(
        self, table: SourceTable, lower_bound: tuple[str, object] | None = None, batch_rows: int = 250_000
    ) -> pa.RecordBatchReader:
        """The contract columns of `table` (rows with `column >= value` when a bound is given)."""
        ...

    def close(self) -> None: ...
