"""The demo source databases: advancing day by day gives the same DuckDB contents as a fresh write."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from orchestration.sources.demo import SYSTEMS, write_demo_sources, write_truth
from orchestration.sources.simulator import Simulator

from .simulator_helpers import CONFIG


def _contents(source_dir: Path) -> dict[str, list[tuple]]:
    out = {}
    for system in SYSTEMS:
        with duckdb.connect(str(source_dir / f"{system}.duckdb"), read_only=True) as con:
            names = [r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()]
            for name in names:
                if name != "_simulator_state":
                    out[f"{system}.{name}"] = sorted(con.execute(f'select * from "{name}"').fetchall(), key=repr)
            out[f"{system}._as_of"] = con.execute("select as_of from _simulator_state").fetchall()
    return out


def test_advancing_equals_fresh_write(tmp_path: Path) -> None:
    day = dt.date(2025, 12, 30)
    sim = Simulator(CONFIG)
    first = write_demo_sources(CONFIG, tmp_path / "advanced", day, simulator=sim)
    assert first["litellm.LiteLLM_SpendLogs"] > 0
    for offset in (1, 3):
        step = write_demo_sources(CONFIG, tmp_path / "advanced", day + dt.timedelta(days=offset), simulator=sim)
        assert 0 < step["litellm.LiteLLM_SpendLogs"] < first["litellm.LiteLLM_SpendLogs"]
    write_demo_sources(CONFIG, tmp_path / "fresh", day + dt.timedelta(days=3))
    assert _contents(tmp_path / "advanced") == _contents(tmp_path / "fresh")
    with duckdb.connect(str(tmp_path / "fresh" / "litellm.duckdb"), read_only=True) as con:
        assert (
            con.execute("select count(*) from duckdb_constraints() where constraint_type = 'PRIMARY KEY'").fetchone()[0]
            == 0
        )
    written = write_truth(CONFIG, tmp_path / "truth", day)
    assert written["mrr"] > 0 and (tmp_path / "truth" / "mrr.parquet").exists()
