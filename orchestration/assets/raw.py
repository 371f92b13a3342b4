"""Raw assets: one per source entity (group `raw`), plus the demo sources they read in demo mode.

Each asset runs the one loader (orchestration.extract) against the connector its system is
configured with (sources.yaml); the demo reads the simulator's DuckDB files through the same
database connector a real deployment uses. All raw assets share the `warehouse_writes` pool so
writes to the (single-writer) DuckDB file are serialized.
"""

from typing import TYPE_CHECKING

import dagster as dg

from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import Settings
from orchestration.sources.config import SourceConfig, load_sources_config
from orchestration.sources.schemas import ALL_TABLES, SourceTable

# The loader (duckdb, pyarrow) is imported when an asset runs, not when the code location loads
# (orchestration/lazy.py); annotations naming it are quoted because this module cannot use
# `from __future__ import annotations` (Dagster reads the asset functions' `context` annotation).
if TYPE_CHECKING:
    from orchestration.extract import ExtractResult

RAW_GROUP = "raw"
WAREHOUSE_POOL = "warehouse_writes"
DEMO_SOURCES_KEY = dg.AssetKey(["sources", "demo_databases"])


def raw_asset_key(table: SourceTable) -> dg.AssetKey:
    return dg.AssetKey(["raw", table.raw_name])


def build_raw_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    """One asset per SourceTable (key ["raw", raw_name]); plus ["sources", "demo_databases"] if any system is demo."""
    configs = load_sources_config(settings.sources_config)
    assets = [_raw_asset(settings, table, configs[table.system]) for table in ALL_TABLES]
    if any(config.mode == "demo" for config in configs.values()):
        assets.append(build_demo_sources_asset(settings))
    return assets


def build_demo_sources_asset(settings: Settings) -> dg.AssetsDefinition:
    @dg.asset(
        key=DEMO_SOURCES_KEY,
        group_name="sources",
        kinds={"duckdb", "python"},
        pool=WAREHOUSE_POOL,
        description=(
            "The demo company's source databases (Lago, Keycloak, LiteLLM shapes) written by the simulator "
            "up to the data as-of date, plus its ground truth (read only by tests and benchmarks)."
        ),
    )
    def demo_databases(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from orchestration.sources.demo import write_demo_sources, write_truth
        from orchestration.sources.simulator import SimulatorConfig

        config = SimulatorConfig.from_settings(settings.simulator, settings)
        as_of = settings.data_as_of()
        written = write_demo_sources(config, settings.source_dir, as_of)
        write_truth(config, settings.truth_dir, as_of)
        context.log.info(f"demo sources up to {as_of}: {written}")
        return dg.MaterializeResult(
            metadata={
                "as_of": as_of.isoformat(),
                "source_dir": str(settings.source_dir),
                "rows_written": dg.MetadataValue.json(written),
            }
        )

    return demo_databases


def _raw_asset(settings: Settings, table: SourceTable, config: SourceConfig) -> dg.AssetsDefinition:
    deps = [DEMO_SOURCES_KEY] if config.mode == "demo" else []

    @dg.asset(
        key=raw_asset_key(table),
        group_name=RAW_GROUP,
        kinds={settings.warehouse},
        pool=WAREHOUSE_POOL,
        deps=deps,
        description=f"{table.system} `{table.name}` ({table.mode}) → raw.{table.raw_name}. {table.description}".strip(),
        metadata={"source_system": table.system, "source_table": table.name, "extract_mode": table.mode},
    )
    def raw_entity(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        result = extract_entity(settings, warehouse, table, config, run_id=context.run_id)
        if result.rows_rejected:
            context.log.warning(f"{result.rows_rejected} row(s) of {table.key} rejected: see raw._rejects")
        for note in result.notes:
            context.log.info(note)
        return dg.MaterializeResult(metadata=_metadata(result))

    return raw_entity


def extract_entity(
    settings: Settings, warehouse: WarehouseResource, table: SourceTable, config: SourceConfig, run_id: str
) -> "ExtractResult":
    """Extract one entity with its system's configured connector (file drops load each pending file)."""
    from orchestration.extract import extract_table

    if config.mode == "files":
        return _load_file_drops(settings, warehouse, table, config, run_id)
    connector = config.connector(settings, table)
    try:
        return extract_table(warehouse, connector, table, run_id=run_id)
    finally:
        connector.close()


def _load_file_drops(
    settings: Settings, warehouse: WarehouseResource, table: SourceTable, config: SourceConfig, run_id: str
) -> "ExtractResult":
    from orchestration.extract import ExtractResult
    from orchestration.sources.connectors.files import load_file_drops

    connector = config.connector(settings, table)
    report = load_file_drops(warehouse, connector, [table], run_id=run_id)
    total = ExtractResult(table.system, table.name, f"raw.{table.raw_name}", connector.label)
    for dropped, result in report.loaded:
        for name in ("rows_received", "rows_loaded", "rows_inserted", "rows_updated", "rows_unchanged"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        for name in ("duplicates_collapsed", "rows_rejected", "rows_deleted", "rows_restored"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        total.cursor_before = total.cursor_before or result.cursor_before
        total.cursor_after = result.cursor_after
        total.notes.append(f"loaded {dropped.name}")
    total.notes += [f"quarantined {dropped.name}: {reason}" for dropped, reason in report.quarantined]
    return total


def _metadata(result: "ExtractResult") -> dict[str, object]:
    metadata: dict[str, object] = {}
    for name, value in result.metadata().items():
        if isinstance(value, dict | list) or value is None:
            metadata[name] = dg.MetadataValue.json(value if value is not None else {})
        else:
            metadata[name] = value
    metadata["raw_table"] = dg.MetadataValue.text(result.raw_table)
    return metadata
