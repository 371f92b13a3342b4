"""Crash safety: SIGKILL extraction and dbt runs at observed moments, rerun, and compare with an uninterrupted run.

The reference warehouse runs the daily cycle twice without interruption: day 1 (first load of every source entity,
`dbt run` from scratch) and day 2 (incremental extraction from the cursors, `dbt run` of the day-2 partition: table
swaps plus delete+insert of the incremental usage models). Each kill point starts from the matching state (an empty
warehouse, or a clone taken after day 1 / after day 2's extraction), SIGKILLs the run's whole process group at its
trigger, reruns the same step to the end and asserts every relation's content hash equals the reference's: nothing
lost, nothing duplicated, no leftover temporary tables, cursors where the uninterrupted run left them.
Extraction runs use a fixed `now`/run id (tests/reliability/extract_driver.py) so raw tables compare byte for byte.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import Settings
from tests.reliability.extract_driver import extract_all
from tests.reliability.hashing import content_hashes, differences
from tests.reliability.pipeline import (
    COMPANY,
    DAY_1,
    DAY_2,
    Trigger,
    clone_warehouse,
    dbt_command,
    extract_command,
    fresh_warehouse,
    run_killable,
    run_to_end,
    write_sources,
)

pytestmark = pytest.mark.slow

NOW_1, NOW_2 = dt.datetime(2026, 10, 15, 1, 0), dt.datetime(2026, 10, 16, 1, 0)
RUN_1, RUN_2 = "run-day-1", "run-day-2"


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
    KillPoint(
        "incremental_after_merge_before_cursor_commit",
        "incremental_extract",
        Trigger(statement=r'INSERT INTO "raw"\."_extract_state"'),
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


@dataclass
class Reference:
    day_1_sources: Path
    day_2_sources: Path
    empty: Settings  # day-1 settings of a warehouse never written (template for first-load kills)
    after_day_1: Settings  # clone source: day 1 done (extract + dbt)
    after_day_2_extract: Settings  # clone source: day 1 done, day 2 extracted
    raw_after_day_1_extract: dict[str, str]
    raw_after_day_2_extract: dict[str, str]
    after_day_2: dict[str, str]


def raw_only(hashes: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in hashes.items() if k.startswith("raw.")}


def hashes_of(settings: Settings) -> dict[str, str]:
    return content_hashes(WarehouseResource.from_settings(settings))


@pytest.fixture(scope="module")
def reference(make_settings, engine, request, tmp_path_factory) -> Reference:
    """The uninterrupted two-day run, with clones of its intermediate states for the kill points to start from."""
    base = make_settings("crash_reference", simulator=COMPANY)
    sources_root = tmp_path_factory.mktemp(f"{engine}_crash_sources")
    day_1_sources = write_sources(base, sources_root / "day1", DAY_1)
    day_2_sources = write_sources(base, sources_root / "day2", DAY_2)
    day_1 = replace(base, sources_config=day_1_sources, as_of_date=DAY_1)
    pg = request.getfixturevalue("postgres_databases") if engine == "postgres" else None

    run_to_end(extract_command(day_1, NOW_1, RUN_1), day_1)
    raw_1 = raw_only(hashes_of(day_1))
    run_to_end(dbt_command(day_1), day_1)
    after_day_1 = clone_warehouse(day_1, "crash_after_day1", tmp_path_factory.mktemp(f"{engine}_after_day1"), pg)

    day_2 = replace(day_1, sources_config=day_2_sources, as_of_date=DAY_2)
    run_to_end(extract_command(day_2, NOW_2, RUN_2), day_2)
    raw_2 = raw_only(hashes_of(day_2))
    after_extract = clone_warehouse(day_2, "crash_after_extract2", tmp_path_factory.mktemp(f"{engine}_after_x2"), pg)
    run_to_end(dbt_command(day_2, day=DAY_2), day_2)
    return Reference(
        day_1_sources=day_1_sources,
        day_2_sources=day_2_sources,
        empty=day_1,
        after_day_1=replace(after_day_1, sources_config=day_2_sources, as_of_date=DAY_2),
        after_day_2_extract=after_extract,
        raw_after_day_1_extract=raw_1,
        raw_after_day_2_extract=raw_2,
        after_day_2=hashes_of(day_2),
    )


@pytest.mark.parametrize("point", KILL_POINTS, ids=[p.name for p in KILL_POINTS])
def test_killed_run_converges_after_rerun(point: KillPoint, reference: Reference, engine, request, tmp_path) -> None:
    if engine not in point.engines:
        pytest.skip(f"{point.name}: a PostgreSQL statement trigger")
    pg = request.getfixturevalue("postgres_databases") if engine == "postgres" else None
    name = f"kill_{point.name}"[:40]
    if point.step == "first_extract":
        settings = fresh_warehouse(reference.empty, name, tmp_path / "wh", pg)
        command, expected = extract_command(settings, NOW_1, RUN_1), reference.raw_after_day_1_extract
    elif point.step == "incremental_extract":
        settings = clone_warehouse(reference.after_day_1, name, tmp_path / "wh", pg)
        command, expected = extract_command(settings, NOW_2, RUN_2), reference.raw_after_day_2_extract
    else:
        settings = clone_warehouse(reference.after_day_2_extract, name, tmp_path / "wh", pg)
        # `dbt run`: the models of the day-2 build (its data tests and unit tests only read; no store_failures)
        command, expected = dbt_command(settings, "run", day=DAY_2), reference.after_day_2

    outcome = run_killable(command, settings, point.trigger)
    assert outcome.killed, f"{point.name}: the run ended before the kill landed:\n{outcome.output[-3000:]}"

    # The rerun opens the crashed warehouse (DuckDB: replays/discards its WAL; PostgreSQL: rolled back server-side).
    if point.step == "dbt":
        run_to_end(command, settings)
    else:
        extract_all(
            settings,
            NOW_2 if point.step == "incremental_extract" else NOW_1,
            RUN_2 if point.step == "incremental_extract" else RUN_1,
        )
    actual = hashes_of(settings)
    if point.step != "dbt":
        actual = raw_only(actual)
    assert differences(expected, actual) == {}, f"{point.name}: rerun did not converge"
