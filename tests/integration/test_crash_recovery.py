"""Crash safety: SIGKILL extraction and dbt runs at observed moments, rerun, and compare with an uninterrupted run.

The uninterrupted run is tests/reliability/reference.py (day 1: first load + `dbt build`; day 2: incremental
extraction + `dbt build` of the day-2 partition). Each kill point starts from the matching state (an empty warehouse,
or a clone taken after day 1 / after day 2's extraction), SIGKILLs the run's whole process group at its trigger
(a line of its output; on PostgreSQL also a statement seen in pg_stat_activity), reruns the same step to the end
and asserts every relation's content hash equals the reference's: nothing lost, nothing duplicated, no leftover
temporary tables, cursors where the uninterrupted run left them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.reliability.extract_driver import extract_all
from tests.reliability.hashing import differences
from tests.reliability.pipeline import (
    DAY_2,
    Trigger,
    clone_warehouse,
    dbt_command,
    extract_command,
    fresh_warehouse,
    run_killable,
    run_to_end,
)
from tests.reliability.reference import NOW_1, NOW_2, RUN_1, RUN_2, Reference, hashes_of, raw_only

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class KillPoint:
    name: str
    step: str  # first_extract | incremental_extract | dbt
    trigger: Trigger
    engines: tuple[str, ...] = ("duckdb", "postgres")


def started(entity: str) -> str:
    return rf"^extract start {entity}$"


def dbt_started(kind: str, relation: str) -> str:
    return rf"START sql {kind} model {relation} "


KILL_POINTS = (
    # first load of an empty warehouse (PostgreSQL: straight COPY into raw with the key index rebuilt afterwards)
    KillPoint("first_load_after_one_entity", "first_extract", Trigger(line=r"^extract done lago\.customers ")),
    KillPoint(
        "first_load_inside_usage_load", "first_extract", Trigger(started("litellm.LiteLLM_SpendLogs"), None, 0.4)
    ),
    # incremental extraction from the day-1 cursors
    KillPoint("incremental_before_first_commit", "incremental_extract", Trigger(started("lago.customers"))),
    KillPoint("incremental_inside_invoices", "incremental_extract", Trigger(started("lago.invoices"), None, 0.15)),
    KillPoint("incremental_between_entities", "incremental_extract", Trigger(line=r"^extract done lago\.fees ")),
    KillPoint(
        "incremental_inside_snapshot_diff", "incremental_extract", Trigger(started("keycloak.user_entity"), None, 0.15)
    ),
    KillPoint(
        "incremental_inside_usage", "incremental_extract", Trigger(started("litellm.LiteLLM_SpendLogs"), None, 0.3)
    ),
    # after an entity's merge: its cursor write or the stage cleanup after it, both before that transaction commits
    KillPoint(
        "incremental_after_merge_before_cursor_commit",
        "incremental_extract",
        Trigger(statement=r'INSERT INTO "raw"\."_extract_state"|DROP (TABLE|VIEW) IF EXISTS _extract_'),
        engines=("postgres",),
    ),
    # dbt run of day 2 (table swaps, delete+insert of the day's usage partition)
    KillPoint("dbt_staging_views", "dbt", Trigger(dbt_started("view", r"staging\.stg_lago__invoices"), None, 0.05)),
    KillPoint(
        "dbt_intermediate_table",
        "dbt",
        Trigger(dbt_started("table", r"intermediate\.int_revenue__subscriptions"), None, 0.2),
    ),
    KillPoint(
        "dbt_incremental_delete_insert",
        "dbt",
        Trigger(dbt_started("incremental", r"intermediate\.int_usage__requests"), None, 0.2),
    ),
    KillPoint("dbt_mart_table_swap", "dbt", Trigger(dbt_started("table", r"marts\.fct_mrr"), None, 0.2)),
    KillPoint("dbt_last_marts", "dbt", Trigger(dbt_started("table", r"marts\.kpi_monthly"), None, 0.05)),
    KillPoint(
        "dbt_inside_table_rename",
        "dbt",
        Trigger(statement=r"alter table .*rename to"),
        engines=("postgres",),
    ),
)


@pytest.mark.parametrize("point", KILL_POINTS, ids=[p.name for p in KILL_POINTS])
def test_killed_run_converges_after_rerun(
    point: KillPoint, reliability_reference: Reference, engine, request, tmp_path
) -> None:
    reference = reliability_reference
    if engine not in point.engines:
        pytest.skip(f"{point.name}: a PostgreSQL statement trigger")
    pg = request.getfixturevalue("postgres_databases") if engine == "postgres" else None
    name = f"kill_{point.name}"[:40]
    if point.step == "first_extract":
        settings = fresh_warehouse(reference.empty, name, tmp_path / "wh", pg)
        now, run_id, expected = NOW_1, RUN_1, reference.raw_after_day_1_extract
    elif point.step == "incremental_extract":
        settings = clone_warehouse(reference.after_day_1, name, tmp_path / "wh", pg)
        now, run_id, expected = NOW_2, RUN_2, reference.raw_after_day_2_extract
    else:
        settings = clone_warehouse(reference.after_day_2_extract, name, tmp_path / "wh", pg)
        expected = reference.hashes_after_day_2
    # dbt: `dbt run`, the models of the day-2 build (its data tests and unit tests only read; no store_failures)
    killed = dbt_command(settings, "run", day=DAY_2) if point.step == "dbt" else extract_command(settings, now, run_id)

    outcome = run_killable(killed, settings, point.trigger)
    assert outcome.killed, f"{point.name}: the run ended before the kill landed:\n{outcome.output[-3000:]}"

    # The rerun opens the crashed warehouse (DuckDB: replays/discards its WAL; PostgreSQL: rolled back server-side).
    if point.step == "dbt":
        run_to_end(killed, settings)
    else:
        extract_all(settings, now, run_id)  # in process: same code as the driver, one interpreter start less
    actual = hashes_of(settings)
    if point.step != "dbt":
        actual = raw_only(actual)
    assert differences(expected, actual) == {}, f"{point.name}: rerun did not converge"
