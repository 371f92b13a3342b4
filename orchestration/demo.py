"""`make demo`: run the main job (simulated sources -> raw -> marts -> ML), then render the latest reports.

The runs go through the Dagster instance in DAGSTER_HOME (default .data/dagster_home), so they show up in the
UI afterwards.
"""

from __future__ import annotations

import sys
import time

import dagster as dg

from orchestration.assets.reports import latest_complete_partitions
from orchestration.definitions import build_definitions
from orchestration.jobs import ALL_ASSETS_JOB_NAME, full_history_run_tags
from orchestration.settings import Settings, get_settings


def _failed_steps(result: dg.ExecuteInProcessResult) -> list[str]:
    return sorted({event.step_key for event in result.all_events if event.is_step_failure})


def run_demo(settings: Settings) -> bool:
    defs = build_definitions(settings)
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    succeeded = True
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        started = time.monotonic()
        job = defs.resolve_job_def(ALL_ASSETS_JOB_NAME)
        result = job.execute_in_process(
            instance=instance, tags=full_history_run_tags(settings, job), raise_on_error=False
        )
        print(f"\n{job.name}: {'succeeded' if result.success else 'FAILED'} in {time.monotonic() - started:.0f} s")
        if not result.success:
            print("  failed steps: " + ", ".join(_failed_steps(result)))
            return False
        # the latest closed month and complete ISO week, as the report schedules would render them
        for job_name, partition_key in latest_complete_partitions(settings.data_as_of()).items():
            started = time.monotonic()
            report_result = defs.resolve_job_def(job_name).execute_in_process(
                instance=instance, partition_key=partition_key, raise_on_error=False
            )
            status = "succeeded" if report_result.success else "FAILED"
            print(f"{job_name} [{partition_key}]: {status} in {time.monotonic() - started:.0f} s")
            succeeded &= report_result.success
    return succeeded


def main() -> int:
    settings = get_settings()
    started = time.monotonic()
    succeeded = run_demo(settings)
    where = settings.duckdb_path if settings.warehouse == "duckdb" else settings.postgres.url
    print(f"\nDemo {'finished' if succeeded else 'FAILED'} in {time.monotonic() - started:.0f} s.")
    print(f"Warehouse ({settings.warehouse}): {where}")
    print(f"Reports: {settings.reports_dir}")
    print("Open the UI:  .venv/bin/dagster dev -w workspace.yaml   (then http://127.0.0.1:3000)")
    if settings.warehouse == "duckdb":
        print(
            f"Query it:     .venv/bin/python -c \"import duckdb; print(duckdb.connect('{where}', read_only=True)"
            ".sql('select * from marts.kpi_monthly order by month desc limit 12'))\""
        )
    return 0 if succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
