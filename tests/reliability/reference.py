"""The uninterrupted reference run shared by the crash-recovery and idempotency tests (one per engine).

The daily cycle runs twice without interruption: day 1 (first load of every source entity, `dbt build` from
scratch) and day 2 (incremental extraction from the cursors, `dbt build` of the day-2 partition: table swaps plus
delete+insert of the incremental usage models). Clones of the intermediate states are kept for kill points to
start from, with the content hashes each step must converge to. Extraction runs use a fixed `now`/run id
(tests/reliability/extract_driver.py) so raw tables of different warehouses compare byte for byte.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import Settings
from tests.reliability.hashing import content_hashes
from tests.reliability.pipeline import (
    COMPANY,
    DAY_1,
    DAY_2,
    clone_warehouse,
    dbt_command,
    extract_command,
    run_to_end,
    write_sources,
)

NOW_1, NOW_2 = dt.datetime(2026, 10, 15, 1, 0), dt.datetime(2026, 10, 16, 1, 0)
RUN_1, RUN_2 = "run-day-1", "run-day-2"


@dataclass
class Reference:
    day_1_sources: Path
    day_2_sources: Path
    empty: Settings  # day-1 settings of a warehouse never written (template for first-load kills)
    after_day_1: Settings  # clone: day 1 done (extract + dbt); day-2 sources and vars
    after_day_2_extract: Settings  # clone: day 1 done, day 2 extracted
    after_day_2: Settings  # the reference warehouse itself, both days done
    raw_after_day_1_extract: dict[str, str]
    raw_after_day_2_extract: dict[str, str]
    hashes_after_day_2: dict[str, str]


def raw_only(hashes: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in hashes.items() if k.startswith("raw.")}


def hashes_of(settings: Settings) -> dict[str, str]:
    return content_hashes(WarehouseResource.from_settings(settings))


@pytest.fixture(scope="session")
def reliability_reference(make_settings, engine, request, tmp_path_factory) -> Reference:
    base = make_settings("reliability_reference", simulator=COMPANY)
    sources_root = tmp_path_factory.mktemp(f"{engine}_reliability_sources")
    day_1_sources = write_sources(base, sources_root / "day1", DAY_1)
    day_2_sources = write_sources(base, sources_root / "day2", DAY_2)
    day_1 = replace(base, sources_config=day_1_sources, as_of_date=DAY_1)
    pg = request.getfixturevalue("postgres_databases") if engine == "postgres" else None

    run_to_end(extract_command(day_1, NOW_1, RUN_1), day_1)
    raw_1 = raw_only(hashes_of(day_1))
    run_to_end(dbt_command(day_1), day_1)
    after_day_1 = clone_warehouse(day_1, "rel_after_day1", tmp_path_factory.mktemp(f"{engine}_after_day1"), pg)

    day_2 = replace(day_1, sources_config=day_2_sources, as_of_date=DAY_2)
    run_to_end(extract_command(day_2, NOW_2, RUN_2), day_2)
    raw_2 = raw_only(hashes_of(day_2))
    after_extract = clone_warehouse(day_2, "rel_after_extract2", tmp_path_factory.mktemp(f"{engine}_after_x2"), pg)
    run_to_end(dbt_command(day_2, day=DAY_2), day_2)
    return Reference(
        day_1_sources=day_1_sources,
        day_2_sources=day_2_sources,
        empty=day_1,
        after_day_1=replace(after_day_1, sources_config=day_2_sources, as_of_date=DAY_2),
        after_day_2_extract=after_extract,
        after_day_2=day_2,
        raw_after_day_1_extract=raw_1,
        raw_after_day_2_extract=raw_2,
        hashes_after_day_2=hashes_of(day_2),
    )
