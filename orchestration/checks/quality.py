"""GX suites as Dagster asset checks: one `gx_suite` check per guarded table, grouped in as few ops as blocking allows.

Every step of the multiprocess executor is a subprocess that loads the code location and imports GX (seconds each),
so the checks are grouped rather than one op per table (which would pay that 20 times):
- blocking suites, one op per layer: `raw_gx_suites` runs after extraction and gates dbt; `marts_gx_suites` (the
  MRR identities) runs after those marts are built and gates what is built from them (later marts, ML);
- every non-blocking suite, whatever its layer, in one op `nonblocking_gx_suites`. Dagster runs a multi-asset check
  as one step per upstream step, so each of these checks also depends on the other tables of the op
  (`additional_deps`): the op runs once, after all of them (at the end of a daily run), instead of once per layer.
  They gate nothing, so waiting costs nothing; the price is that when one of those tables fails to build in a run,
  the whole op is skipped in that run.
The ops can subset, so a run that materializes some raw tables evaluates only their checks.

Severity: a failed expectation marked `critical` in its suite (every raw expectation; the MRR identities of the
marts) makes the check ERROR; otherwise WARN. A blocking check (suite meta.guard.blocking) that fails at ERROR stops
the downstream assets in the same run.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import dagster as dg

from orchestration.checks.gx import (
    DEFAULT_CHUNK_ROWS,
    EXPECTATIONS_DIR,
    GuardedTable,
    SuiteOutcome,
    load_guarded_tables,
)
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import Settings

GX_CHECK_NAME = "gx_suite"
WAREHOUSE_POOL = "warehouse_writes"  # the DuckDB file takes one connection at a time (see assets/raw.py)


def gx_check_key(asset_key: dg.AssetKey) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(asset_key, GX_CHECK_NAME)


def _asset_key(table: GuardedTable) -> dg.AssetKey:
    return dg.AssetKey(list(table.asset_key))


def check_result(outcome: SuiteOutcome) -> dg.AssetCheckResult:
    meta = outcome.metadata()
    metadata: dict[str, Any] = {
        "suite": dg.MetadataValue.text(meta["suite"]),
        "suite_file": dg.MetadataValue.text(f"expectations/{meta['suite_file']}"),
        "engine": dg.MetadataValue.text(meta["engine"]),
        "scope": dg.MetadataValue.text(meta["scope"]),
        "rows_validated": dg.MetadataValue.int(meta["rows_validated"]),
        "expectations_evaluated": dg.MetadataValue.int(meta["expectations_evaluated"]),
        "expectations_failed": dg.MetadataValue.int(meta["expectations_failed"]),
        "failing_columns": dg.MetadataValue.json(meta["failing_columns"]),
        "failures": dg.MetadataValue.json(meta["failures"]),
    }
    if "error" in meta:
        metadata["error"] = dg.MetadataValue.text(meta["error"])
    return dg.AssetCheckResult(
        asset_key=_asset_key(outcome.table),
        check_name=GX_CHECK_NAME,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR if outcome.critical else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=_summary(outcome),
    )


def _summary(outcome: SuiteOutcome) -> str:
    if outcome.error:
        return f"{outcome.table.suite_name}: could not validate ({outcome.error})"
    if outcome.passed:
        return f"{outcome.table.suite_name}: {outcome.evaluated} expectations passed on {outcome.rows_validated} rows"
    failed = ", ".join(f"{f.expectation}({', '.join(f.columns)})" for f in outcome.failures)
    return f"{outcome.table.suite_name}: {len(outcome.failures)} of {outcome.evaluated} expectations failed: {failed}"


NONBLOCKING_OP = "nonblocking_gx_suites"


def _op_name(table: GuardedTable) -> str:
    return f"{table.layer}_gx_suites" if table.blocking else NONBLOCKING_OP


def _checks_op(name: str, tables: list[GuardedTable], chunk_rows: int) -> dg.AssetChecksDefinition:
    by_check_key = {gx_check_key(_asset_key(t)): t for t in tables}
    specs = [
        dg.AssetCheckSpec(
            GX_CHECK_NAME,
            asset=_asset_key(t),
            blocking=t.blocking,
            description=f"Great Expectations suite expectations/{t.path.name} ({t.expectation_count} expectations, "
            f"scope: {t.scope}){'; blocking at ERROR' if t.blocking else ''}.",
            metadata={"suite_file": f"expectations/{t.path.name}"},
            # non-blocking: wait for the op's other tables too, so the op is one step (see the module docstring)
            additional_deps=[] if t.blocking else [_asset_key(other) for other in tables if other is not t],
        )
        for t in tables
    ]

    @dg.multi_asset_check(
        specs=specs,
        name=name,
        can_subset=True,
        pool=WAREHOUSE_POOL,
        description="Great Expectations suites " + ", ".join(f"expectations/{t.path.name}" for t in tables) + ".",
    )
    def gx_suites(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> Iterable[dg.AssetCheckResult]:
        from orchestration.checks.gx import validate_tables

        now = dt.datetime.now(dt.UTC)  # "not in the future" means: not after this check ran
        selected = sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key.to_user_string())
        for outcome in validate_tables([by_check_key[k] for k in selected], warehouse, now=now, chunk_rows=chunk_rows):
            context.log.info(_summary(outcome))
            yield check_result(outcome)

    return gx_suites


def build_quality_checks(
    settings: Settings,
    asset_keys: Collection[dg.AssetKey] | None = None,
    *,
    expectations_dir: Path = EXPECTATIONS_DIR,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> list[dg.AssetChecksDefinition]:
    """The GX asset checks of the code location: one multi-asset check per layer for the blocking suites and one for
    all the others (see the module docstring).

    `asset_keys`: the assets of the Definitions; suites guarding assets that are not there (yet) are left out.
    `settings` is accepted for symmetry with the other builders (the warehouse comes from the `warehouse` resource).
    """
    del settings
    by_op: dict[str, list[GuardedTable]] = defaultdict(list)
    for table in load_guarded_tables(expectations_dir):
        if asset_keys is None or _asset_key(table) in asset_keys:
            by_op[_op_name(table)].append(table)
    return [_checks_op(name, tables, chunk_rows) for name, tables in sorted(by_op.items())]


def asset_keys_of(assets: Iterable[dg.AssetsDefinition | dg.AssetSpec]) -> set[dg.AssetKey]:
    keys: set[dg.AssetKey] = set()
    for asset in assets:
        keys |= {asset.key} if isinstance(asset, dg.AssetSpec) else set(asset.keys)
    return keys
