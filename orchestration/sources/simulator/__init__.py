"""Deterministic demo company: Lago, Keycloak and LiteLLM source tables plus a separate ground truth.

Same seed => same history; history up to day D never depends on the final date (per-day random
streams), so generating at once or advancing day by day gives the same rows.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa

from .clock import US_PER_DAY, day_index
from .config import SimulatorConfig
from .engine import step
from .tables import Names, keycloak_tables, lago_tables, litellm_table
from .truth import build_truth
from .world import World

# Usage rows may arrive up to ~46 h after they start, events up to 4 h: how far back changes() expands.
USAGE_LOOKBACK_DAYS, EVENT_LOOKBACK_DAYS = 3, 1


class Simulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.world = World(config)

    def _simulate_to(self, as_of: dt.date) -> int:
        last = day_index(self.config.start_date, as_of)
        if last < 0:
            raise ValueError(f"as_of {as_of} is before the simulation start {self.config.start_date}")
        for day in range(self.world.day + 1, last + 1):
            step(self.world, day)
        return last

    def _end_us(self, day: int) -> int:
        return int(self.world.day_start(day)) + US_PER_DAY - 1

    def source_tables(self, as_of: dt.date) -> dict[str, pa.Table]:
        """Every source table as the systems hold it at the end of `as_of` (usage: rows arrived by then)."""
        last = self._simulate_to(as_of)
        return self._tables(None, last)

    def changes(self, since: dt.date, as_of: dt.date) -> dict[str, pa.Table]:
        """Rows inserted or updated in (end of since, end of as_of]; usage/events: rows that arrived then.
        Keycloak hard deletes cannot show as rows: user_entity/user_attribute are snapshot tables."""
        last = self._simulate_to(as_of)
        first = day_index(self.config.start_date, since)
        if first > last:
            raise ValueError("since must not be after as_of")
        return self._tables(first, last)

    def identity_snapshot(self, as_of: dt.date) -> dict[str, pa.Table]:
        """Keycloak's snapshot tables (users, attributes, realm) at the end of `as_of`, without events."""
        last = self._simulate_to(as_of)
        out = keycloak_tables(self.world, Names(self.world), None, self._end_us(last), range(0))
        return {k: v for k, v in out.items() if k != "keycloak.event_entity"}

    def _tables(self, since_day: int | None, last: int) -> dict[str, pa.Table]:
        names = Names(self.world)
        until = self._end_us(last)
        since = None if since_day is None else (self._end_us(since_day) if since_day >= 0 else None)
        lo = 0 if since_day is None else max(0, since_day - USAGE_LOOKBACK_DAYS)
        ev_lo = 0 if since_day is None else max(0, since_day - EVENT_LOOKBACK_DAYS)
        out = lago_tables(self.world, names, since, until)
        out.update(keycloak_tables(self.world, names, since, until, range(ev_lo, last + 1)))
        out["litellm.LiteLLM_SpendLogs"] = litellm_table(self.world, names, since, until, range(lo, last + 1))
        return out

    def truth(self, as_of: dt.date) -> dict[str, pd.DataFrame]:
        last = self._simulate_to(as_of)
        return build_truth(self.world, Names(self.world), last, self._end_us(last))


__all__ = ["Simulator", "SimulatorConfig"]
