"""Helpers of the crash-safety and idempotency tests: demo sources per day, killable runs, warehouse clones.

A run is a subprocess (the extraction driver, or the dbt CLI exactly as the dbt assets invoke it) started in its
own process group; `run_killable` SIGKILLs the whole group when a trigger is observed — a line on its output, or
(PostgreSQL) a statement seen in pg_stat_activity for the warehouse database — after an optional delay.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
import yaml
from psycopg import sql

from orchestration.dbt_args import build_args, partition_vars
from orchestration.settings import PROJECT_ROOT, Settings, SimulatorSettings
from orchestration.sources.demo import SYSTEMS, write_demo_sources
from orchestration.sources.simulator import SimulatorConfig

DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
# Small enough for a dozen kill-and-rerun cycles per engine, large enough for every lifecycle and usage.
COMPANY = SimulatorSettings(seed=11, n_customers=60, start_date=dt.date(2026, 5, 1), as_of=dt.date(2026, 10, 15))
DAY_1, DAY_2 = dt.date(2026, 10, 14), dt.date(2026, 10, 15)
RUN_TIMEOUT_S = 600


@dataclass(frozen=True)
class Trigger:
    """When to SIGKILL: the first output line matching `line`, or (PostgreSQL) a matching statement of the run."""

    line: str | None = None
    statement: str | None = None  # regex over pg_stat_activity.query of the warehouse database
    delay_s: float = 0.0


@dataclass
class RunOutcome:
    killed: bool
    returncode: int
    output: str


def write_sources(settings: Settings, folder: Path, as_of: dt.date) -> Path:
    """Demo source databases at `as_of` in `folder`, and a sources.yaml reading them in database mode."""
    config = SimulatorConfig.from_settings(settings.simulator, settings)
    write_demo_sources(config, folder, as_of)
    sources = {s: {"mode": "database", "url": f"duckdb://{folder / f'{s}.duckdb'}"} for s in SYSTEMS}
    path = folder / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": sources}))
    return path


def extract_command(settings: Settings, now: dt.datetime, run_id: str) -> list[str]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    pickled = settings.data_dir / f"settings-{run_id}.pickle"
    pickled.write_bytes(pickle.dumps(settings))
    return [sys.executable, "-m", "tests.reliability.extract_driver", str(pickled), now.isoformat(), run_id]


def dbt_command(settings: Settings, command: str = "build", day: dt.date | None = None) -> list[str]:
    """The dbt CLI as the dbt assets call it (orchestration.dbt_args); `day`: the daily partition's window, passed
    as --vars (the assets pass it in the environment; the dbt macro run_setting reads either)."""
    window = None
    if day is not None:
        start = dt.datetime.combine(day, dt.time())
        window = (start, start + dt.timedelta(days=1))
    args = build_args({**settings.dbt_vars(), **(partition_vars(*window) if window else {})})
    args[0] = command
    target = settings.data_dir / "dbt_target"
    return [
        DBT_EXECUTABLE,
        *args,
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_project_dir),
        "--target",
        settings.dbt_target,
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
    ]


def _environment(settings: Settings) -> dict[str, str]:
    env = {**os.environ, **settings.dbt_env(), "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _statement_seen(monitor: psycopg.Connection, dbname: str, pattern: re.Pattern[str]) -> bool:
    rows = monitor.execute(
        "SELECT query FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
        "AND state IN ('active', 'idle in transaction')",
        [dbname],
    ).fetchall()
    return any(pattern.search(r[0] or "") for r in rows)


def run_killable(command: list[str], settings: Settings, trigger: Trigger | None = None) -> RunOutcome:
    """Run `command` to the end, or SIGKILL its process group when `trigger` fires."""
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=_environment(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    output: list[str] = []
    line_pattern = re.compile(trigger.line) if trigger and trigger.line else None
    statement_pattern = re.compile(trigger.statement, re.I | re.S) if trigger and trigger.statement else None
    monitor = (  # one connection polled continuously: statements of a small load last milliseconds
        psycopg.connect(settings.postgres.with_dbname("postgres").conninfo, autocommit=True)
        if statement_pattern
        else None
    )
    deadline = time.monotonic() + RUN_TIMEOUT_S
    fired = finished = False
    while not (fired or finished):
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise TimeoutError(f"{command[:3]} did not finish in {RUN_TIMEOUT_S} s:\n{''.join(output[-40:])}")
        try:
            line = lines.get_nowait() if statement_pattern else lines.get(timeout=0.2)
        except queue.Empty:
            line = ""
        if line is None:
            finished = True
            break
        output.append(line)
        if (line_pattern and line and line_pattern.search(line)) or (
            statement_pattern and _statement_seen(monitor, settings.postgres.dbname, statement_pattern)
        ):
            fired = True
    if fired:
        time.sleep(trigger.delay_s if trigger else 0)
        os.killpg(process.pid, signal.SIGKILL)
    if monitor is not None:
        monitor.close()
    returncode = process.wait()
    while True:  # drain what was printed before the kill
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            break
        if line is None:
            break
        output.append(line)
    return RunOutcome(killed=returncode == -signal.SIGKILL, returncode=returncode, output="".join(output))


def run_to_end(command: list[str], settings: Settings) -> str:
    outcome = run_killable(command, settings)
    assert outcome.returncode == 0, f"{' '.join(command[:4])} failed:\n{outcome.output[-6000:]}"
    return outcome.output


def clone_warehouse(settings: Settings, name: str, data_dir: Path, postgres_databases=None) -> Settings:
    """A copy of the (idle) warehouse of `settings`: the DuckDB file (and WAL) or a PostgreSQL template copy."""
    data_dir.mkdir(parents=True, exist_ok=True)
    clone = replace(settings, data_dir=data_dir, duckdb_path=data_dir / "warehouse.duckdb")
    if settings.warehouse == "duckdb":
        shutil.copyfile(settings.duckdb_path, clone.duckdb_path)
        wal = settings.duckdb_path.with_name(settings.duckdb_path.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, clone.duckdb_path.with_name(clone.duckdb_path.name + ".wal"))
        return clone
    dbname = f"{postgres_databases.prefix}_{name}"[:63]
    with psycopg.connect(postgres_databases.admin.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(dbname), sql.Identifier(settings.postgres.dbname)
            )
        )
    postgres_databases.created.append(dbname)
    return replace(clone, postgres=settings.postgres.with_dbname(dbname))


def fresh_warehouse(settings: Settings, name: str, data_dir: Path, postgres_databases=None) -> Settings:
    """An empty warehouse with the same sources and vars as `settings`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fresh = replace(settings, data_dir=data_dir, duckdb_path=data_dir / "warehouse.duckdb")
    if settings.warehouse == "postgres":
        fresh = replace(fresh, postgres=postgres_databases.create(name))
    return fresh
