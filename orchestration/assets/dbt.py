"""dbt models as Dagster assets: a translator (keys and groups by layer) and two @dbt_assets factories.

- `dbt_models`: every model and seed except those tagged `daily_partitioned` (one unpartitioned run).
- `dbt_daily_partitioned_models`: models tagged `daily_partitioned`, daily partitions, backfilled in a
  single run; the partition window reaches dbt as run settings partition_start/partition_end.

Both run `dbt build` (dbt tests become asset checks), with the target fixed on the dbt resource (dbt runs in the
step's process, orchestration/resources/dbt.py), the project-wide vars on the command line (the same on every run)
and the profile's connection variables and the per-run settings (as-of date, partition window) in the environment
(see `dbt_environment`). Equal --vars on every run let dbt reuse the prepared parse (partial parsing) instead of
re-parsing the project each day.
"""

# No `from __future__ import annotations` here: Dagster reads the asset functions' `context` annotation at
# definition time and rejects it as a string.
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.assets import raw
from orchestration.dbt_args import DAILY_PARTITIONED_TAG, build_args, nodes_with_tag, partition_env
from orchestration.resources.dbt import dbt_environment
from orchestration.settings import Settings
from orchestration.sources import schemas

# Shared with the raw assets: every asset that writes to the warehouse takes this pool, so a DuckDB file
# has one writer at a time (configure its limit on the instance, see dagster.yaml.example).
WAREHOUSE_POOL = raw.WAREHOUSE_POOL


def source_asset_key(source_name: str, table_name: str) -> dg.AssetKey:
    """Key of the raw asset that loads dbt source `source_name.table_name`, e.g. ["raw", "lago_customers"]."""
    return raw.raw_asset_key(schemas.table(f"{source_name}.{table_name}"))


def _layer(dbt_resource_props: Mapping[str, Any]) -> str:
    """The warehouse schema = layer of a model or seed: its custom schema, else the folder under models/."""
    schema = (dbt_resource_props.get("config") or {}).get("schema")
    if schema:
        return schema
    fqn = dbt_resource_props.get("fqn") or []
    return fqn[1] if len(fqn) > 2 else "staging"


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """Sources map to the raw assets' keys (one connected lineage); models are keyed and grouped by layer."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return source_asset_key(dbt_resource_props["source_name"], dbt_resource_props["name"])
        return dg.AssetKey([_layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return raw.RAW_GROUP
        return _layer(dbt_resource_props)


def _plain_dbt_assets(settings: Settings, manifest: Mapping[str, Any]) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=manifest,
        exclude=f"tag:{DAILY_PARTITIONED_TAG}",
        name="dbt_models",
        dagster_dbt_translator=WarehouseDbtTranslator(),
        pool=WAREHOUSE_POOL,
    )
    def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        # seeds have no upstream asset, so this can be the first step to touch a new DuckDB file
        settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        with dbt_environment(settings.dbt_env()):
            yield from dbt.cli(build_args(settings.dbt_vars()), context=context).stream()

    return dbt_models


def daily_partition_env(settings: Settings, start: datetime, end: datetime) -> dict[str, str]:
    """Environment of a daily-partitioned dbt run over the window [start, end)."""
    return {**settings.dbt_env(), **partition_env(start, end)}


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """Daily partitions of the usage models, from the first simulated/extracted day."""
    return dg.DailyPartitionsDefinition(start_date=settings.simulator.resolved_start().isoformat(), timezone="UTC")


def _daily_partitioned_dbt_assets(settings: Settings, manifest: Mapping[str, Any]) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=manifest,
        select=f"tag:{DAILY_PARTITIONED_TAG}",
        name="dbt_daily_partitioned_models",
        dagster_dbt_translator=WarehouseDbtTranslator(),
        partitions_def=daily_partitions(settings),
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
    )
    def dbt_daily_partitioned_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        window = context.partition_time_window  # a day, or a whole backfill range in a single run
        with dbt_environment(daily_partition_env(settings, window.start, window.end)):
            yield from dbt.cli(build_args(settings.dbt_vars()), context=context).stream()

    return dbt_daily_partitioned_models


def build_dbt_assets(settings: Settings, manifest: Mapping[str, Any]) -> list[dg.AssetsDefinition]:
    """Both dbt factories; the partitioned one only once a model carries the `daily_partitioned` tag."""
    assets = [_plain_dbt_assets(settings, manifest)]
    if nodes_with_tag(manifest, DAILY_PARTITIONED_TAG):
        assets.append(_daily_partitioned_dbt_assets(settings, manifest))
    return assets
