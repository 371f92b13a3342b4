"""Time loading the code location (`import orchestration.definitions; defs`) in fresh interpreters.

    .venv/bin/python bench/bench_code_location.py [--runs 5] [--top 15]

This is what `dagster dev` / a code server does before it can serve anything. Each run is a new Python process
(the OS file cache is warm after the first run). Printed per stage -- `import dagster`, `+ dagster_dbt` (which
imports dbt-core), the whole code location -- the median wall and CPU time of `--runs` (CPU time is what a busy,
shared machine distorts least), in two set-ups:
- "as installed": this environment as it is. If PYTHONDONTWRITEBYTECODE is set and the virtualenv was installed
  without compiling bytecode (uv's default), every start compiles dagster, dbt-core & co. from source.
- "bytecode cached": the same with compiled bytecode (kept in a private PYTHONPYCACHEPREFIX, warmed first), which
  is what pip's default install, `uv pip install --compile-bytecode`, or simply Python's own __pycache__ gives.
Also printed: the machine's load average (it is shared). `--top N` adds the N slowest imports of one load by
cumulative time (`python -X importtime`). The issue's bar: <= 5 s. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 5.0
LOAD = "import orchestration.definitions as d; d.defs"
STAGES = {
    "import dagster": "import dagster",
    "+ dagster_dbt (dbt-core)": "import dagster, dagster_dbt",
    "code location": LOAD,
}


def run_seconds(code: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU user + system) seconds of one fresh interpreter running `code`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(setup: str, env: dict[str, str], runs: int) -> float:
    """Print each stage's median wall and CPU time; return the code location's median wall time."""
    run_seconds(LOAD, env)  # warm the OS file cache (and the bytecode cache, if any)
    medians = {}
    for stage, code in STAGES.items():
        walls, cpus = zip(*(run_seconds(code, env) for _ in range(runs)), strict=True)
        medians[stage] = statistics.median(walls)
        print(
            f"  {setup:16s} {stage:26s} wall median {medians[stage]:5.2f} s (min {min(walls):.2f}, "
            f"max {max(walls):.2f}); CPU median {statistics.median(cpus):5.2f} s"
        )
    extra = medians["code location"] - medians["+ dagster_dbt (dbt-core)"]
    print(f"  {setup:16s} our modules + building Definitions: {extra:.2f} s on top of dagster + dagster_dbt")
    return medians["code location"]


def slowest_imports(code: str, top: int) -> list[tuple[float, str]]:
    """(cumulative seconds, module) of the `top` slowest imports of one run, from `-X importtime`."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    )
    rows = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            rows.append((int(match[1]) / 1e6, match[3]))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=0, help="also list the N slowest imports of one load")
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {args.runs} runs per stage")
    print(f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}")
    as_installed = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="bench_code_location_pycache_") as cache:
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {
            "PYTHONPYCACHEPREFIX": cache
        }
        results = {"as installed": measure("as installed", as_installed, args.runs)}
        results["bytecode cached"] = measure("bytecode cached", cached, args.runs)
    for setup, load in results.items():
        print(f"bar <= {BUDGET_S:.0f} s, {setup}: {'met' if load <= BUDGET_S else 'NOT met'} ({load:.2f} s median)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.top:
        print(f"\nslowest imports of one load as installed (cumulative, -X importtime; top {args.top}):")
        for seconds, module in slowest_imports(LOAD, args.top):
            print(f"  {seconds:6.2f} s  {module}")


if __name__ == "__main__":
    main()
