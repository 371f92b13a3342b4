"""Schedules. All are created STOPPED: a deployment turns on what it wants (UI or `dagster schedule start`)."""

from __future__ import annotations

import dagster as dg

DAILY_REFRESH_SCHEDULE = "daily_refresh"
DAILY_REFRESH_HOUR_UTC = 2
TRAIN_MODELS_SCHEDULE = "train_models_weekly"
TRAIN_MODELS_CRON = "0 3 * * 0"  # Sunday 03:00 UTC


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


MONTHLY_REPORTS_SCHEDULE = "monthly_reports"
WEEKLY_REPORTS_SCHEDULE = "weekly_reports"
REPORTS_HOUR_UTC = 6


def build_report_schedules(
    monthly_job: dg.UnresolvedAssetJobDefinition, weekly_job: dg.UnresolvedAssetJobDefinition
) -> list[dg.ScheduleDefinition]:
    """Monthly review on the 1st at 06:00 UTC for the month that just closed; weekly reports on Mondays at
    06:00 UTC for the ISO week that just ended (each tick runs the partition that ended before it)."""
    return [
        dg.build_schedule_from_partitioned_job(
            monthly_job,
            name=MONTHLY_REPORTS_SCHEDULE,
            day_of_month=1,
            hour_of_day=REPORTS_HOUR_UTC,
            default_status=dg.DefaultScheduleStatus.STOPPED,
        ),
        dg.build_schedule_from_partitioned_job(
            weekly_job,
            name=WEEKLY_REPORTS_SCHEDULE,
            day_of_week=1,
            hour_of_day=REPORTS_HOUR_UTC,
            default_status=dg.DefaultScheduleStatus.STOPPED,
        ),
    ]


def build_train_models_schedule(job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    """Every Sunday at 03:00 UTC: retrain the models (the daily refresh scores with the newest one)."""
    return dg.ScheduleDefinition(
        name=TRAIN_MODELS_SCHEDULE,
        job=job,
        cron_schedule=TRAIN_MODELS_CRON,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
