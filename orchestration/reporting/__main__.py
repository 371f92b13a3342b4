"""Render the three reports from sample data and print the timings: `python -m orchestration.reporting OUT_DIR`.

A preview of the layouts without a warehouse, and the timing the issue asks for (<= 30 s for all three).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from orchestration.reporting.render import render_report
from orchestration.reporting.sample_data import sample_churn_risk, sample_monthly_review, sample_weekly_usage
from orchestration.reporting.specs import MONTHLY_BUSINESS_REVIEW, WEEKLY_CHURN_RISK, WEEKLY_USAGE_COST


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--week", default="2026-W43")
    parser.add_argument("--mask-names", action="store_true")
    args = parser.parse_args()
    inputs = {
        MONTHLY_BUSINESS_REVIEW: sample_monthly_review(args.month),
        WEEKLY_USAGE_COST: sample_weekly_usage(args.week),
        WEEKLY_CHURN_RISK: sample_churn_risk(args.week),
    }
    wall, cpu = time.perf_counter(), time.process_time()
    for name, data in inputs.items():
        started = time.perf_counter()
        rendered = render_report(name, data, args.out_dir, mask_names=args.mask_names)
        steps = ", ".join(f"{step} {seconds:.2f}s" for step, seconds in rendered.timings_s.items())
        print(f"{name}: {time.perf_counter() - started:.2f}s ({steps}) -> {rendered.directory}")
    print(f"all three: {time.perf_counter() - wall:.2f}s wall, {time.process_time() - cpu:.2f}s CPU")


if __name__ == "__main__":
    main()
