"""What a report is made of, independent of the output format.

A report builder turns input frames into a `ReportContent`: KPI cards, sections with charts and typed
tables, and a summary dict of headline numbers. `render.py` writes the same content as HTML, PDF, CSV
and XLSX, so the numbers in every format come from one place.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Literal

from orchestration.lazy import lazy_module

pd = lazy_module("pandas")  # deferred: not needed to load the code location (orchestration/lazy.py)

# How a column is typed in XLSX and formatted in HTML. "pct"/"pct_change" hold fractions (0.837), like the marts'
# rates (nrr, logo_churn_rate); "percent" holds 0-100 values, like the marts' *_pct columns (gross_margin_pct).
Kind = Literal[
    "text",
    "int",
    "money",
    "money_precise",
    "number",
    "general",
    "pct",
    "pct_change",
    "percent",
    "ratio",
    "date",
    "month",
]


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    kind: Kind = "text"
    wrap: bool = False  # long free text (drivers, evidence): wraps instead of widening the table
    kind_from: str | None = None  # name of a column holding each row's Kind (mixed-unit tables such as KPIs)

    def kind_of(self, row: pd.Series) -> Kind:
        return row[self.kind_from] if self.kind_from else self.kind  # type: ignore[return-value]


# The alert tables of the monthly review and the weekly usage report (ml.metric_alerts columns).
ALERT_COLUMNS = (
    Column("severity", "Severity"),
    Column("day", "Day", "date"),
    Column("metric", "Metric"),
    Column("scope", "Scope", wrap=True),  # long service/provider/model scopes
    Column("value", "Value", "general"),
    Column("expected_low", "Expected low", "general"),
    Column("expected_high", "Expected high", "general"),
    Column("message", "Message", wrap=True),
)


@dataclass(frozen=True)
class Table:
    """A typed table; `name` is its CSV file name and XLSX sheet name."""

    name: str
    title: str
    columns: list[Column]
    frame: pd.DataFrame
    note: str = ""
    empty_text: str = "None this period."
    show_in_html: bool = True  # False: exported to CSV/XLSX only (a chart already shows it)

    def __post_init__(self) -> None:
        missing = [c.name for c in self.columns if c.name not in self.frame.columns]
        if missing:
            raise ValueError(f"table {self.name}: frame lacks column(s) {', '.join(missing)}")
        if len(self.name) > 31:
            raise ValueError(f"table name {self.name!r} is longer than an XLSX sheet name may be (31)")

    @property
    def data(self) -> pd.DataFrame:
        """The exported columns, in order."""
        return self.frame[[c.name for c in self.columns]].reset_index(drop=True)

    def rows(self) -> list[pd.Series]:
        """Full rows (including any `kind_from` columns), in order."""
        return [row for _, row in self.frame.reset_index(drop=True).iterrows()]


@dataclass(frozen=True)
class Chart:
    title: str
    image_uri: str  # data: URI (self-contained)
    alt: str


@dataclass(frozen=True)
class Kpi:
    label: str
    value: float | None
    kind: Kind
    prior_month: float | None = None
    prior_year: float | None = None
    # "pp" for rates (change in percentage points), "abs" for plain differences, "pct" for relative change.
    change_kind: Literal["pct", "pp", "abs"] = "pct"
    higher_is_better: bool = True

    def change(self, prior: float | None) -> float | None:
        if self.value is None or prior is None or _missing(self.value) or _missing(prior):
            return None
        if self.change_kind == "pct":
            return None if prior == 0 else self.value / prior - 1
        return self.value - prior

    @property
    def mom(self) -> float | None:
        return self.change(self.prior_month)

    @property
    def yoy(self) -> float | None:
        return self.change(self.prior_year)


@dataclass(frozen=True)
class Section:
    title: str
    anchor: str
    intro: str = ""
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    wide: bool = False  # printed on landscape pages

    @classmethod
    def of_table(cls, table: Table, anchor: str, intro: str = "") -> Section:
        """A section holding one table, titled like it (the table's own heading is then not repeated)."""
        return cls(title=table.title, anchor=anchor, intro=intro, tables=[table])


@dataclass(frozen=True)
class Definition:
    term: str
    text: str


@dataclass(frozen=True)
class ReportContent:
    report: str
    period: str
    title: str
    subtitle: str
    currency: str
    kpis: list[Kpi]
    sections: list[Section]
    summary: dict[str, object]
    definitions: list[Definition] = field(default_factory=list)
    highlights: list[str] = field(default_factory=list)
    change_labels: tuple[str, ...] = ("vs prior month", "vs prior year")
    notes: list[str] = field(default_factory=list)  # footnotes, printed after the last section
    kpi_table: Table | None = None  # the KPI cards as a table, for CSV/XLSX

    @property
    def tables(self) -> list[Table]:
        tables = [table for section in self.sections for table in section.tables]
        return ([self.kpi_table] if self.kpi_table is not None else []) + tables


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def plain(value: object) -> object:
    """A JSON-friendly scalar (numpy/pandas scalars and dates unwrapped, NaN -> None)."""
    if _missing(value):
        return None
    if hasattr(value, "item"):
        value = value.item()  # type: ignore[union-attr]
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
