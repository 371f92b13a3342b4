"""A sensor that notices new files in the landing folders of `files`-mode sources and materializes their raw assets.

The run key is the digest of the pending (file name, sha256) pairs, so an unchanged landing folder never
triggers twice; the raw assets themselves load each file once (`raw._file_drops`) and move it away.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import dagster as dg

from orchestration.assets.raw import raw_asset_key
from orchestration.settings import Settings
from orchestration.sources.config import load_sources_config
from orchestration.sources.schemas import ALL_TABLES, SourceTable

if TYPE_CHECKING:  # the connector (pyarrow) is imported when the sensor ticks, not at code-location load
    from orchestration.sources.connectors.files import FileDropConnector

FILE_DROP_SENSOR_NAME = "file_drop_sensor"


def file_drop_connectors(settings: Settings) -> dict[str, FileDropConnector]:
    """Landing-folder connectors of the systems configured in files mode."""
    from orchestration.sources.connectors.files import FileDropConnector

    configs = load_sources_config(settings.sources_config)
    return {
        system: FileDropConnector(config.url or "", config.options.get("archive"), config.options.get("quarantine"))
        for system, config in configs.items()
        if config.mode == "files"
    }


def build_file_drop_sensor(
    settings: Settings,
    *,
    asset_key: Callable[[SourceTable], dg.AssetKey] = raw_asset_key,
    minimum_interval_seconds: int = 60,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=FILE_DROP_SENSOR_NAME,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Materializes the raw assets of entities with new files in a files-mode landing folder.",
        asset_selection=[asset_key(t) for t in ALL_TABLES],
    )
    def file_drop_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        pending = []
        for system, connector in file_drop_connectors(settings).items():
            pending.extend(f for f in connector.pending() if f.table is None or f.table.system == system)
        if not pending:
            return dg.SkipReason("no new files in the landing folders")
        digest = hashlib.sha256("\n".join(sorted(f"{f.path}:{f.sha256}" for f in pending)).encode()).hexdigest()
        by_name = {f.table.raw_name: f.table for f in pending if f.table is not None}
        tables = [by_name[name] for name in sorted(by_name)]
        if not tables:  # nothing to load: set the misnamed files aside now, with their reason
            for connector in file_drop_connectors(settings).values():
                for dropped in connector.pending():
                    if dropped.table is None:
                        connector.quarantine_file(dropped, f"file name {dropped.name!r} names no raw entity")
            return dg.SkipReason(f"{len(pending)} file(s) name no raw entity: {', '.join(f.name for f in pending)}")
        context.log.info(f"{len(pending)} new file(s) for {', '.join(t.raw_name for t in tables)}")
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"file-drops-{digest[:32]}",
                    asset_selection=[asset_key(t) for t in tables],
                    tags={"source": "file_drops", "files": str(len(pending))},
                )
            ]
        )

    return file_drop_sensor
