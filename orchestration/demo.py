"""`make demo`: run the main job (simulated sources -> raw -> marts -> ML -> reports) on the configured warehouse.

The run goes through the Dagster instance in $DAGSTER_HOME, so it shows up in the UI afterwards.
"""

from __future__ import annotations

import sys
import time

import dagster as dg

from orchestration.definitions import build_definitions
from orchestration.jobs import ALL_ASSETS_JOB_NAME, full_history_run_tags
from orchestration.settings import get_settings


def main() -> int:
    settings = get_settings()
    defs = build_definitions(settings)
    job = defs.resolve_job_def(ALL_ASSETS_JOB_NAME)
    started = time.monotonic()
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        result = job.execute_in_process(
            instance=instance, tags=full_history_run_tags(settings, job), raise_on_error=False
        )
    elapsed = time.monotonic() - started
    failed = [event.step_key for event in result.all_events if event.is_step_failure]
    where = settings.duckdb_path if settings.warehouse == "duckdb" else settings.postgres.url
    print()
    print(f"Main job {'succeeded' if result.success else 'FAILED'} in {elapsed:.0f} s (run id {result.run_id}).")
    if failed:
        print("Failed steps: " + ", ".join(sorted(set(failed))))
    print(f"Warehouse ({settings.warehouse}): {where}")
    print(f"Reports: {settings.reports_dir}")
    print("Open the UI:  .venv/bin/dagster dev -w workspace.yaml   (then http://127.0.0.1:3000)")
    if settings.warehouse == "duckdb":
        print(f"Query it:     .venv/bin/python -c \"import duckdb; print(duckdb.connect('{where}', read_only=True)"
              ".sql('select * from marts.kpi_monthly order by month desc limit 12'))\"")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
