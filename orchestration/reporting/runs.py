"""One row of reports.report_runs per report run: what was rendered (files + checksums), to whom, and how it went."""

from __future__ import annotations

import datetime as dt
import json

from orchestration.reporting.delivery import DELIVERED, FAILED, DeliveryResult
from orchestration.reporting.render import RenderedReport

# Column order of reports.report_runs; files and deliveries are JSON text (portable across DuckDB and Postgres).
REPORT_RUNS_COLUMNS = (
    "run_id",
    "report",
    "period",
    "started_at",
    "finished_at",
    "status",
    "files",
    "recipients",
    "deliveries",
    "error",
)


def run_status(results: list[DeliveryResult]) -> str:
    """delivered: every channel worked; partial: files are in the folder but a send failed; failed: no intact files."""
    folder = next((r for r in results if r.channel == "folder"), None)
    if folder is None or folder.status == FAILED:
        return "failed"
    return DELIVERED if all(r.status != FAILED for r in results) else "partial"


def report_run_record(
    rendered: RenderedReport,
    results: list[DeliveryResult],
    *,
    run_id: str,
    started_at: dt.datetime,
    finished_at: dt.datetime,
) -> dict[str, object]:
    errors = [f"{r.channel}: {r.error}" for r in results if r.status == FAILED and r.error]
    recipients = sorted({address for r in results for address in r.recipients})
    return {
        "run_id": run_id,
        "report": rendered.report,
        "period": rendered.period,
        "started_at": started_at,
        "finished_at": finished_at,
        "status": run_status(results),
        "files": json.dumps([f.as_record() for f in rendered.files], sort_keys=True),
        "recipients": json.dumps(recipients),
        "deliveries": json.dumps(
            [
                {"channel": r.channel, "status": r.status, "target": r.target, "attempts": r.attempts, "error": r.error}
                for r in results
            ],
            sort_keys=True,
        ),
        "error": "; ".join(errors) or None,
    }
