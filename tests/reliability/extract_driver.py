"""A killable extraction run: `python -m tests.reliability.extract_driver SETTINGS.pickle NOW RUN_ID`.

Extracts every source entity (orchestration.sources.schemas.ALL_TABLES order) with the connector configured in
the settings' sources.yaml and the project's one loader, printing `extract start <entity>` / `extract done
<entity>` lines (flushed) so a test can SIGKILL it at observed moments. `now` and `run_id` are fixed so that an
interrupted-then-rerun warehouse can be compared byte for byte with an uninterrupted one (`_loaded_at`,
`rejected_at` and the state's `updated_at` come from `now`). No production module knows about this driver.
"""

from __future__ import annotations

import datetime as dt
import pickle
import sys
from pathlib import Path

from orchestration.extract import extract_table
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import Settings
from orchestration.sources.config import load_sources_config
from orchestration.sources.schemas import ALL_TABLES


def extract_all(settings: Settings, now: dt.datetime, run_id: str) -> None:
    warehouse = WarehouseResource.from_settings(settings)
    configs = load_sources_config(settings.sources_config)
    for table in ALL_TABLES:
        print(f"extract start {table.key}", flush=True)
        connector = configs[table.system].connector(settings, table)
        try:
            result = extract_table(warehouse, connector, table, run_id=run_id, now=now)
        finally:
            connector.close()
        print(f"extract done {table.key} received={result.rows_received} loaded={result.rows_loaded}", flush=True)
    print("extract finished", flush=True)


def main(argv: list[str]) -> None:
    settings_path, now, run_id = argv
    settings: Settings = pickle.loads(Path(settings_path).read_bytes())
    extract_all(settings, dt.datetime.fromisoformat(now), run_id)


if __name__ == "__main__":
    main(sys.argv[1:])
