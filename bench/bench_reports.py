"""Time the three stakeholder reports on a built warehouse: warehouse reads + rendering (HTML, PDF, XLSX, CSV).

    .venv/bin/python bench/bench_reports.py [--month 2026-10] [--week 2026-W43] [--out DIR] [--samples docs/samples]

The warehouse is the configured one (WAREHOUSE, DUCKDB_PATH / WAREHOUSE_URL, AS_OF_DATE ...; `make demo` builds
it, ML tables included). Default periods: the last closed month and the last complete ISO week at the data's
as-of date. The issue's budget: all three reports for one period in <= 30 s. `--samples DIR` also copies each
report's HTML and PDF there (docs/samples/ holds the demo's).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

from orchestration.assets import report_queries as queries
from orchestration.assets.reports import MONTHLY_REPORTS_JOB, WEEKLY_REPORTS_JOB, latest_complete_partitions
from orchestration.reporting import render_report
from orchestration.reporting.specs import (
    MONTHLY_BUSINESS_REVIEW,
    WEEKLY_CHURN_RISK,
    WEEKLY_USAGE_COST,
    iso_week_label,
)
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import get_settings

BUDGET_S = 30.0


def default_periods(as_of: dt.date) -> tuple[str, str]:
    """(last closed month, last complete ISO week) at the end of `as_of`."""
    keys = latest_complete_partitions(as_of)
    return keys[MONTHLY_REPORTS_JOB][:7], iso_week_label(dt.date.fromisoformat(keys[WEEKLY_REPORTS_JOB]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--month")
    parser.add_argument("--week")
    parser.add_argument("--out", type=Path, help="render into this directory (default: a temporary one)")
    parser.add_argument("--samples", type=Path, help="copy each report's HTML and PDF here")
    args = parser.parse_args()

    settings = get_settings()
    warehouse = WarehouseResource.from_settings(settings)
    month, week = default_periods(settings.data_as_of())
    month, week = args.month or month, args.week or week
    jobs = [
        (MONTHLY_BUSINESS_REVIEW, queries.monthly_review_data, queries.ReportPeriod.month(month)),
        (WEEKLY_USAGE_COST, queries.weekly_usage_data, queries.ReportPeriod.iso_week(week)),
        (WEEKLY_CHURN_RISK, queries.churn_risk_data, queries.ReportPeriod.iso_week(week)),
    ]
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_reports_"))
    print(f"warehouse: {settings.warehouse}, data as of {settings.data_as_of()}; month {month}, week {week}")
    wall, cpu = time.perf_counter(), time.process_time()
    for report, read, period in jobs:
        started = time.perf_counter()
        data = read(warehouse, period, settings.reporting_currency)
        read_s = time.perf_counter() - started
        rendered = render_report(report, data, out, mask_names=settings.mask_customer_names)
        steps = ", ".join(f"{step} {seconds:.2f}s" for step, seconds in rendered.timings_s.items())
        size = sum(f.size_bytes for f in rendered.files) / 1e6
        print(
            f"{report} {period.label}: {time.perf_counter() - started:.2f}s "
            f"(read {read_s:.2f}s, {steps}; {len(rendered.files)} files, {size:.1f} MB)"
        )
        if args.samples:
            args.samples.mkdir(parents=True, exist_ok=True)
            for path in (rendered.html, rendered.pdf):
                shutil.copyfile(path, args.samples / path.name)
    total = time.perf_counter() - wall
    print(f"all three: {total:.2f}s wall, {time.process_time() - cpu:.2f}s CPU (budget {BUDGET_S:.0f}s) -> {out}")


if __name__ == "__main__":
    main()
