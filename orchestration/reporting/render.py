"""Render a report's content to its files: HTML, PDF (WeasyPrint), one CSV per table and one XLSX workbook.

Files go to `<out_dir>/<report>/<period>/` with stable names (`<report>_<period>.html|.pdf|.xlsx`,
`<table>.csv`). Each file is written to a temporary name and renamed, so a crash never leaves a
half-written report behind. Nothing in the output depends on the clock: the same inputs give the same
HTML, CSV and XLSX bytes (and the same PDF bytes, see `_write_pdf`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib
import io
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import markupsafe

from orchestration.reporting.content import Column, Kpi, ReportContent, Table
from orchestration.reporting.formatting import as_date, format_change, format_value, is_missing
from orchestration.reporting.specs import (
    DATA_CLASSES,
    MONTHLY_BUSINESS_REVIEW,
    WEEKLY_CHURN_RISK,
    WEEKLY_USAGE_COST,
    ReportDataError,
)

TEMPLATES_DIR = Path(__file__).parent / "templates"
# Content builders by report, imported on first render: they pull in matplotlib, which the Dagster code location
# should not pay for when it loads.
BUILDERS: dict[str, str] = {
    MONTHLY_BUSINESS_REVIEW: "orchestration.reporting.monthly_review",
    WEEKLY_USAGE_COST: "orchestration.reporting.weekly_usage",
    WEEKLY_CHURN_RISK: "orchestration.reporting.churn_risk",
}
NUMERIC_KINDS = {"int", "money", "money_precise", "number", "general", "pct", "pct_change", "percent", "ratio"}
XLSX_FORMATS = {
    "int": "#,##0",
    "money": "#,##0",
    "money_precise": "#,##0.00",
    "number": "#,##0.00",
    "general": "General",
    "pct": "0.0%",
    "pct_change": "+0.0%;-0.0%;0.0%",
    "percent": '0.0"%"',
    "ratio": "0.00",
    "date": "yyyy-mm-dd",
    "month": "mmm yyyy",
}
# Fixed document date (the period's start is not known for every id format; a constant keeps bytes stable).
DOCUMENT_DATE = dt.datetime(2000, 1, 1)
_PDF_LOCK = threading.Lock()


@dataclass(frozen=True)
class RenderedFile:
    path: Path
    kind: str  # html | pdf | xlsx | csv
    sha256: str
    size_bytes: int

    def as_record(self) -> dict[str, object]:
        return {"name": self.path.name, "kind": self.kind, "sha256": self.sha256, "bytes": self.size_bytes}


@dataclass(frozen=True)
class RenderedReport:
    report: str
    period: str
    title: str
    subtitle: str
    directory: Path
    files: list[RenderedFile]
    summary: dict[str, object]
    highlights: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    def _one(self, kind: str) -> Path:
        return next(f.path for f in self.files if f.kind == kind)

    @property
    def html(self) -> Path:
        return self._one("html")

    @property
    def pdf(self) -> Path:
        return self._one("pdf")

    @property
    def xlsx(self) -> Path:
        return self._one("xlsx")

    @property
    def csvs(self) -> dict[str, Path]:
        return {f.path.stem: f.path for f in self.files if f.kind == "csv"}

    @property
    def checksums(self) -> dict[str, str]:
        return {f.path.name: f.sha256 for f in self.files}


# ---- HTML ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str
    css: str


def column_class(column: Column) -> str:
    if column.wrap:
        return "wrap"
    return "num" if column.kind in NUMERIC_KINDS or column.kind_from else "nowrap"


def table_cells(table: Table, currency: str) -> list[list[Cell]]:
    rows = []
    for row in table.rows():
        cells = []
        for column in table.columns:
            kind = column.kind_of(row)
            value = row[column.name]
            css = column_class(column)
            if kind in ("money", "money_precise") and not is_missing(value) and float(value) < 0:
                css += " neg"  # losses in red; changes are not coloured (a cost drop is good news)
            cells.append(Cell(format_value(value, kind, currency), css))
        rows.append(cells)
    return rows


@dataclass(frozen=True)
class Change:
    text: str
    tone: str  # good | bad | flat


def kpi_changes(kpi: Kpi, labels: tuple[str, ...]) -> list[tuple[str, Change]]:
    out = []
    for label, change in zip(labels, (kpi.mom, kpi.yoy), strict=False):
        prior = kpi.prior_month if label == labels[0] else kpi.prior_year
        if prior is None:
            continue
        tone = "flat" if not change else ("good" if (change > 0) == kpi.higher_is_better else "bad")
        out.append((label, Change(format_change(change, kpi.change_kind), tone)))
    return out


def css_string(text: str) -> markupsafe.Markup:
    """Text for a CSS content: "..." string inside <style> (HTML escaping does not apply there)."""
    escaped = "".join(c if c.isalnum() or c in " .,:;·–-_()/&%+#" else f"\\{ord(c):x} " for c in str(text))
    return markupsafe.Markup(f'"{escaped}"')


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = lambda value, kind, currency="USD": format_value(value, kind, currency)
    env.filters["css_string"] = css_string
    env.globals.update(table_cells=table_cells, column_class=column_class, kpi_changes=kpi_changes)
    return env


ENVIRONMENT = _environment()


def render_html(content: ReportContent, *, masked: bool) -> str:
    return ENVIRONMENT.get_template(f"{content.report}.html.j2").render(content=content, masked=masked)


# ---- files -----------------------------------------------------------------------------------------------------------


def _write_atomic(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _fixed_font_timestamps() -> Iterator[None]:
    """WeasyPrint subsets fonts with fontTools when HarfBuzz-subset is missing, and fontTools stamps each subset
    with the current time unless SOURCE_DATE_EPOCH (the reproducible-builds convention) is set. Set it for the
    duration of one PDF write; the lock keeps concurrent renders from restoring it under each other."""
    with _PDF_LOCK:
        previous = os.environ.get("SOURCE_DATE_EPOCH")
        os.environ["SOURCE_DATE_EPOCH"] = str(int(DOCUMENT_DATE.replace(tzinfo=dt.UTC).timestamp()))
        try:
            yield
        finally:
            if previous is None:
                del os.environ["SOURCE_DATE_EPOCH"]
            else:
                os.environ["SOURCE_DATE_EPOCH"] = previous


def _write_pdf(html: str, title: str) -> bytes:
    """PDF bytes that depend only on the HTML: no creation date (WeasyPrint writes none unless the HTML has a
    dcterms.created meta), a fixed file identifier, and font subsets without a timestamp."""
    import weasyprint  # imported lazily: loads pango, ~0.5 s

    with _fixed_font_timestamps():
        document = weasyprint.HTML(string=html, base_url=str(TEMPLATES_DIR)).render()
        document.metadata.title = title
        return document.write_pdf(pdf_identifier=hashlib.md5(title.encode(), usedforsecurity=False).digest())


def csv_bytes(table: Table) -> bytes:
    frame = table.data.copy()
    for column in table.columns:
        if column.kind in ("date", "month"):
            frame[column.name] = [None if (d := as_date(v)) is None else d.isoformat() for v in frame[column.name]]
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def xlsx_bytes(tables: list[Table], title: str) -> bytes:
    import xlsxwriter  # only rendering needs it; not imported at code-location load (orchestration/lazy.py)

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False, "nan_inf_to_errors": True})
    workbook.set_properties({"title": title, "created": DOCUMENT_DATE, "author": "saas-metrics-warehouse"})
    header = workbook.add_format({"bold": True, "bg_color": "#F1F4F7", "bottom": 1, "text_wrap": True, "valign": "top"})
    formats = {kind: workbook.add_format({"num_format": spec}) for kind, spec in XLSX_FORMATS.items()}
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    for table in tables:
        sheet = workbook.add_worksheet(table.name)
        rows = table.rows()
        for col, column in enumerate(table.columns):
            sheet.write_string(0, col, column.label, header)
            width = len(column.label)
            for row_index, row in enumerate(rows, start=1):
                kind = column.kind_of(row)
                width = max(width, _write_cell(sheet, row_index, col, row[column.name], kind, formats))
            sheet.set_column(col, col, 60 if column.wrap else min(max(width, 8) + 2, 40), wrap if column.wrap else None)
        sheet.freeze_panes(1, 0)
        if rows:
            sheet.autofilter(0, 0, len(rows), len(table.columns) - 1)
    workbook.close()
    return buffer.getvalue()


def _write_cell(sheet, row: int, col: int, value: object, kind: str, formats: dict) -> int:
    """Writes one typed cell; returns the display width it needs."""
    if is_missing(value):
        sheet.write_blank(row, col, None)
        return 0
    if kind in NUMERIC_KINDS:
        sheet.write_number(row, col, float(value), formats[kind])  # type: ignore[arg-type]
        return len(format_value(value, kind))
    if kind in ("date", "month"):
        day = as_date(value)
        sheet.write_datetime(row, col, dt.datetime(day.year, day.month, day.day), formats[kind])  # type: ignore[union-attr]
        return 10
    text = str(value)
    sheet.write_string(row, col, text)
    return len(text)


def _record(path: Path, kind: str, payload: bytes) -> RenderedFile:
    _write_atomic(path, payload)
    return RenderedFile(path=path, kind=kind, sha256=hashlib.sha256(payload).hexdigest(), size_bytes=len(payload))


def render_report(report: str, data: object, out_dir: Path, *, mask_names: bool) -> RenderedReport:
    """Render one report for `data.period` into `<out_dir>/<report>/<period>/` and return paths and checksums."""
    if report not in BUILDERS:
        raise ReportDataError(f"unknown report {report!r}; known: {', '.join(BUILDERS)}")
    expected = DATA_CLASSES[report]
    if not isinstance(data, expected):
        raise ReportDataError(f"report {report} needs a {expected.__name__}, got {type(data).__name__}")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    build: Callable[..., ReportContent] = importlib.import_module(BUILDERS[report]).build
    content = build(data, mask_names=mask_names)
    timings["content_and_charts"] = time.perf_counter() - started
    directory = Path(out_dir) / report / content.period
    stem = f"{report}_{content.period}"
    title = f"{content.title} · {content.subtitle}"

    started = time.perf_counter()
    html = render_html(content, masked=mask_names)
    files = [_record(directory / f"{stem}.html", "html", html.encode("utf-8"))]
    timings["html"] = time.perf_counter() - started

    started = time.perf_counter()
    files.append(_record(directory / f"{stem}.pdf", "pdf", _write_pdf(html, title)))
    timings["pdf"] = time.perf_counter() - started

    started = time.perf_counter()
    tables = content.tables
    files.append(_record(directory / f"{stem}.xlsx", "xlsx", xlsx_bytes(tables, title)))
    files.extend(_record(directory / f"{table.name}.csv", "csv", csv_bytes(table)) for table in tables)
    timings["tables"] = time.perf_counter() - started
    return RenderedReport(
        report=report,
        period=content.period,
        title=content.title,
        subtitle=content.subtitle,
        directory=directory,
        files=files,
        summary=content.summary,
        highlights=content.highlights,
        timings_s=timings,
    )
