"""Writes (or advances) the demo source databases: one DuckDB file per system, as the connectors read them.

Each file holds the source tables under their real names plus `_simulator_state` (the as-of date and
a fingerprint of the config). An existing file at an earlier as-of is advanced by applying
`Simulator.changes(previous, as_of)` in one transaction (upsert by primary key; append for usage and
events; snapshot tables replaced); a file at a later as-of or from another config is rebuilt into a
temporary file that then replaces it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.sources.schemas import TABLES_BY_KEY
from orchestration.sources.simulator import Simulator, SimulatorConfig

SYSTEMS = ("lago", "keycloak", "litellm")
STATE_TABLE = "_simulator_state"
SNAPSHOT_TABLES = ("keycloak.user_entity", "keycloak.user_attribute", "keycloak.realm")  # hard deletes: replace


def config_fingerprint(config: SimulatorConfig) -> str:
    payload = json.dumps(dataclasses.asdict(config), default=str, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _read_state(path: Path) -> tuple[dt.date, str] | None:
    if not path.exists():
        return None
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            row = con.execute(f"select as_of, config_fingerprint from {STATE_TABLE}").fetchone()
    except duckdb.Error:
        return None
    return (row[0], row[1]) if row else None


def _create_table(con: duckdb.DuckDBPyConnection, key: str, data: pa.Table) -> None:
    name = key.split(".", 1)[1]
    con.register("_incoming", data)
    con.execute(f"create or replace table {_quote(name)} as select * from _incoming")
    con.unregister("_incoming")
    spec = TABLES_BY_KEY.get(key)
    if spec is not None and spec.system != "litellm":  # duplicates are part of LiteLLM's realism: no PK there
        cols = ", ".join(_quote(c) for c in spec.primary_key)
        con.execute(f"alter table {_quote(name)} add primary key ({cols})")


def _write_state(con: duckdb.DuckDBPyConnection, as_of: dt.date, fingerprint: str) -> None:
    con.execute(f"create or replace table {STATE_TABLE} (as_of date, config_fingerprint varchar, written_at timestamp)")
    con.execute(f"insert into {STATE_TABLE} values (?, ?, now()::timestamp)", [as_of, fingerprint])


def _rebuild(path: Path, tables: dict[str, pa.Table], as_of: dt.date, fingerprint: str) -> dict[str, int]:
    tmp = path.with_suffix(".duckdb.tmp")
    tmp.unlink(missing_ok=True)
    with duckdb.connect(str(tmp)) as con:
        for key, data in tables.items():
            _create_table(con, key, data)
        _write_state(con, as_of, fingerprint)
    os.replace(tmp, path)
    return {key: data.num_rows for key, data in tables.items()}


def _advance(
    path: Path, changes: dict[str, pa.Table], full: dict[str, pa.Table], as_of: dt.date, fingerprint: str
) -> dict[str, int]:
    written: dict[str, int] = {}
    with duckdb.connect(str(path)) as con:
        con.execute("begin transaction")
        try:
            for key, data in changes.items():
                name = _quote(key.split(".", 1)[1])
                if key in SNAPSHOT_TABLES:
                    _create_table(con, key, full[key])
                    written[key] = full[key].num_rows
                    continue
                spec = TABLES_BY_KEY[key]
                con.register("_incoming", data)
                if spec.system == "litellm" or spec.name == "event_entity":
                    con.execute(f"insert into {name} select * from _incoming")
                else:
                    con.execute(f"insert or replace into {name} select * from _incoming")
                con.unregister("_incoming")
                written[key] = data.num_rows
            _write_state(con, as_of, fingerprint)
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    return written


def write_demo_sources(
    config: SimulatorConfig, source_dir: Path, as_of: dt.date, simulator: Simulator | None = None
) -> dict[str, int]:
    """Create or advance source_dir/{lago,keycloak,litellm}.duckdb to the end of `as_of`; rows written per table."""
    source_dir.mkdir(parents=True, exist_ok=True)
    sim = simulator or Simulator(config)
    fingerprint = config_fingerprint(config)
    written: dict[str, int] = {}
    full: dict[str, pa.Table] | None = None
    for system in SYSTEMS:
        path = source_dir / f"{system}.duckdb"
        state = _read_state(path)
        if state and state[1] == fingerprint and state[0] == as_of:
            continue
        if state and state[1] == fingerprint and state[0] < as_of:
            changes = {k: v for k, v in sim.changes(state[0], as_of).items() if k.startswith(system + ".")}
            snapshots = sim.identity_snapshot(as_of) if system == "keycloak" else {}
            written.update(_advance(path, changes, snapshots, as_of, fingerprint))
        else:
            full = full or sim.source_tables(as_of)
            written.update(
                _rebuild(path, {k: v for k, v in full.items() if k.startswith(system + ".")}, as_of, fingerprint)
            )
    return written


def write_truth(
    config: SimulatorConfig, truth_dir: Path, as_of: dt.date, simulator: Simulator | None = None
) -> dict[str, int]:
    """Ground-truth frames as Parquet files truth_dir/<name>.parquet (only tests and benchmarks read them)."""
    truth_dir.mkdir(parents=True, exist_ok=True)
    frames = (simulator or Simulator(config)).truth(as_of)
    for name, frame in frames.items():
        tmp = truth_dir / f".{name}.parquet.tmp"
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, truth_dir / f"{name}.parquet")
    return {name: len(frame) for name, frame in frames.items()}
