"""A small simulated company shared by the simulator tests (built once per test session)."""

from __future__ import annotations

import datetime as dt
from functools import cache

import pyarrow as pa

from orchestration.sources.schemas import TABLES_BY_KEY
from orchestration.sources.simulator import Simulator, SimulatorConfig

CONFIG = SimulatorConfig(seed=16, n_customers=260, start_date=dt.date(2025, 9, 1), months=14)
AS_OF = dt.date(2026, 10, 15)


@cache
def simulator() -> Simulator:
    return Simulator(CONFIG)


@cache
def tables(as_of: dt.date = AS_OF) -> dict[str, pa.Table]:
    return simulator().source_tables(as_of)


def sort_key(key: str) -> list[tuple[str, str]]:
    spec = TABLES_BY_KEY.get(key)
    cols = list(spec.primary_key) if spec else ["id"]  # duplicate LiteLLM rows are identical: ties are harmless
    return [(c, "ascending") for c in cols]


def canonical(key: str, table: pa.Table) -> pa.Table:
    """Rows in a fixed order (all columns), for comparing tables built in different ways."""
    return table.sort_by(sort_key(key))


def upsert(key: str, base: pa.Table, changes: pa.Table) -> pa.Table:
    """Apply changes by primary key (LiteLLM and events: append)."""
    spec = TABLES_BY_KEY.get(key)
    if spec is None or spec.system == "litellm" or spec.name == "event_entity":
        return pa.concat_tables([base, changes])
    pk = spec.primary_key[0]
    changed = set(changes.column(pk).to_pylist())
    keep = [v not in changed for v in base.column(pk).to_pylist()]
    return pa.concat_tables([base.filter(pa.array(keep)), changes])
