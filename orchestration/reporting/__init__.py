"""Stakeholder reports: build content from mart/ml frames, render HTML/PDF/CSV/XLSX, deliver by folder/e-mail/webhook.

No Dagster import here: the reports asset wires warehouse queries to `render_report` and `deliver`.
"""

from orchestration.reporting.config import DeliveryConfig, DeliveryConfigError, load_delivery_config
from orchestration.reporting.delivery import DeliveryResult, deliver
from orchestration.reporting.render import RenderedFile, RenderedReport, render_report
from orchestration.reporting.runs import REPORT_RUNS_COLUMNS, report_run_record, run_status
from orchestration.reporting.specs import (
    MONTHLY_BUSINESS_REVIEW,
    REPORT_IDS,
    WEEKLY_CHURN_RISK,
    WEEKLY_USAGE_COST,
    ChurnRiskData,
    MonthlyReviewData,
    ReportDataError,
    WeeklyUsageData,
)

__all__ = [
    "MONTHLY_BUSINESS_REVIEW",
    "REPORT_IDS",
    "REPORT_RUNS_COLUMNS",
    "WEEKLY_CHURN_RISK",
    "WEEKLY_USAGE_COST",
    "ChurnRiskData",
    "DeliveryConfig",
    "DeliveryConfigError",
    "DeliveryResult",
    "MonthlyReviewData",
    "RenderedFile",
    "RenderedReport",
    "ReportDataError",
    "WeeklyUsageData",
    "deliver",
    "load_delivery_config",
    "render_report",
    "report_run_record",
    "run_status",
]
