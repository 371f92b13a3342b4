"""Extraction into `raw`: contract validation, native bulk staging, set-based merge, rejects, cursor state."""

from orchestration.extract.contract import SchemaDriftError
from orchestration.extract.loader import ExtractResult, extract_table, load_batches

__all__ = ["ExtractResult", "SchemaDriftError", "extract_table", "load_batches"]
