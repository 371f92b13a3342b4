"""Simulator speed: usage rows per second, seconds to 1M LiteLLM rows, and the default company end to end.

Run: .venv/bin/python bench/bench_simulator.py [--customers 2000] [--months 24]
Prints numbers (and the machine's load average, since the machine is shared); asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

import numpy as np

from orchestration.sources.simulator import Simulator, SimulatorConfig
from orchestration.sources.simulator.clock import US_PER_DAY, date_of, day_index
from orchestration.sources.simulator.tables import Names, litellm_table

TARGET_ROWS = 1_000_000


def _usage_only(sim: Simulator, last: int) -> int:
    """The day loop to `last` plus every LiteLLM row started by then (what the bar measures)."""
    sim._simulate_to(date_of(sim.config.start_date, last))
    world = sim.world
    table = litellm_table(world, Names(world), None, int(world.day_start(last + 3)) + US_PER_DAY, range(last + 1))
    return table.num_rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    start = dt.date(2024, 10, 1)
    as_of = start + dt.timedelta(days=round(args.months * 30.44) - 1)
    config = SimulatorConfig(seed=args.seed, n_customers=args.customers, start_date=start, months=args.months)
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    # 1. the bar: a fresh simulator producing >= 1M usage rows (day loop + row expansion)
    probe = Simulator(config)
    probe._simulate_to(as_of)
    per_day = np.zeros(day_index(start, as_of) + 1)
    for day, usage in probe.world.usage_counts.items():
        per_day[day] = usage.requests.sum()
    reach = int(np.searchsorted(np.cumsum(per_day), TARGET_ROWS * 1.01))
    t, cpu = time.perf_counter(), time.process_time()
    rows = _usage_only(Simulator(config), min(reach, per_day.size - 1))
    seconds, cpu_s = time.perf_counter() - t, time.process_time() - cpu
    print(f"bar: {rows:,} usage rows (days 0..{reach}, incl. the day loop) in {seconds:.2f} s wall / {cpu_s:.2f} s CPU")
    print(f"     = {rows / seconds:,.0f} rows/s wall, {rows / cpu_s:,.0f} rows/s CPU")

    # 2. the default company end to end
    sim = Simulator(config)
    t = time.perf_counter()
    sim._simulate_to(as_of)
    loop_s = time.perf_counter() - t
    t = time.perf_counter()
    tables = sim.source_tables(as_of)
    tables_s = time.perf_counter() - t
    t = time.perf_counter()
    truth = sim.truth(as_of)
    truth_s = time.perf_counter() - t
    usage_rows = tables["litellm.LiteLLM_SpendLogs"].num_rows
    print(
        f"default company ({sim.world.cust.n} customers, {per_day.size} days to {as_of}): day loop {loop_s:.2f} s, "
        f"source tables {tables_s:.2f} s, truth {truth_s:.2f} s, total {loop_s + tables_s + truth_s:.2f} s "
        f"({usage_rows / (loop_s + tables_s):,.0f} usage rows/s)"
    )
    for key, value in tables.items():
        print(f"  {key:32s} {value.num_rows:>10,}")
    for key, frame in truth.items():
        print(f"  truth.{key:26s} {len(frame):>10,}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
