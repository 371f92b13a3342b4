"""dbt source freshness as Dagster freshness policies on the raw assets.

The dbt sources (`freshness: warn_after / error_after`, see models/staging/*/_*__sources.yml) stay the one place the
windows are written; each becomes `FreshnessPolicy.time_window(fail_window=error_after, warn_window=warn_after)` on
the raw asset that loads the source. Sources with `freshness: null` (reference data) get no policy. Dagster 1.13
evaluates these policies itself (the older build_*freshness_checks builders are superseded).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from orchestration.assets.dbt import source_asset_key

_PERIODS = {"minute": "minutes", "hour": "hours", "day": "days"}


def _window(spec: Mapping[str, Any] | None) -> dt.timedelta | None:
    if not spec or spec.get("count") is None or spec.get("period") is None:
        return None
    return dt.timedelta(**{_PERIODS[spec["period"]]: int(spec["count"])})


def build_freshness_policies(manifest: Mapping[str, Any]) -> dict[dg.AssetKey, dg.FreshnessPolicy]:
    """Raw asset key -> policy, from the freshness of every dbt source that has one."""
    policies: dict[dg.AssetKey, dg.FreshnessPolicy] = {}
    for source in manifest.get("sources", {}).values():
        freshness = source.get("freshness") or {}
        fail, warn = _window(freshness.get("error_after")), _window(freshness.get("warn_after"))
        if fail is None:  # dbt can warn without an error threshold; Dagster needs a fail window
            fail, warn = warn, None
        if fail is None:
            continue
        key = source_asset_key(source["source_name"], source["name"])
        policies[key] = dg.FreshnessPolicy.time_window(
            fail_window=fail, warn_window=warn if warn and warn < fail else None
        )
    return policies


def apply_freshness_policies(
    assets: Sequence[dg.AssetsDefinition], policies: Mapping[dg.AssetKey, dg.FreshnessPolicy]
) -> list[dg.AssetsDefinition]:
    """The same assets, with each policy attached to the spec of its asset (other specs unchanged)."""

    def attach(spec: dg.AssetSpec) -> dg.AssetSpec:
        policy = policies.get(spec.key)
        return spec.replace_attributes(freshness_policy=policy) if policy is not None else spec

    return [
        asset.map_asset_specs(attach)
        if isinstance(asset, dg.AssetsDefinition) and policies.keys() & set(asset.keys)
        else asset
        for asset in assets
    ]
