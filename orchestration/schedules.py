"""Schedules. All are created STOPPED: a deployment turns on what it wants (UI or `dagster schedule start`)."""

from __future__ import annotations

import dagster as dg

DAILY_REFRESH_SCHEDULE = "daily_refresh"
DAILY_REFRESH_HOUR_UTC = 2


def build_daily_refresh_schedule(job: dg.UnresolvedAssetJobDefinition, *, partitioned: bool) -> dg.ScheduleDefinition:
    """Every day at 02:00 UTC; when the job has daily partitions, each tick runs the day that just ended."""
    if partitioned:
        return dg.build_schedule_from_partitioned_job(
            job,
            name=DAILY_REFRESH_SCHEDULE,
            hour_of_day=DAILY_REFRESH_HOUR_UTC,
            default_status=dg.DefaultScheduleStatus.STOPPED,
        )
    return dg.ScheduleDefinition(
        name=DAILY_REFRESH_SCHEDULE,
        job=job,
        cron_schedule=f"0 {DAILY_REFRESH_HOUR_UTC} * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
