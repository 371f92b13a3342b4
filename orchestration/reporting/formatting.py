"""Human formatting of numbers, shared by templates and tests (so tests look for exactly what readers see)."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

from orchestration.lazy import lazy_module
from orchestration.reporting.content import Kind

pd = lazy_module("pandas")  # deferred: not needed to load the code location (orchestration/lazy.py)

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
MINUS = "-"  # ASCII minus: survives PDF text extraction and copy-paste into spreadsheets
MISSING = "–"  # how a missing number, date or month reads
P = ParamSpec("P")


def is_missing(value: object) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _dash_if_missing(format_present: Callable[Concatenate[Any, P], str]) -> Callable[Concatenate[object, P], str]:
    """`format_present` for a value, the dash for a missing one (None, NaN, NaT): one rule for every number."""

    @functools.wraps(format_present)
    def formatted(value: object, *args: P.args, **kwargs: P.kwargs) -> str:
        return MISSING if is_missing(value) else format_present(value, *args, **kwargs)

    return formatted


@_dash_if_missing
def money(value: Any, currency: str = "USD", decimals: int = 0) -> str:
    number = float(value)
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    sign = MINUS if number < 0 and round(abs(number), decimals) > 0 else ""
    return f"{sign}{symbol}{abs(number):,.{decimals}f}"


@_dash_if_missing
def integer(value: Any) -> str:
    return f"{round(float(value)):,d}"


@_dash_if_missing
def number(value: Any, decimals: int = 2) -> str:
    return f"{float(value):,.{decimals}f}"


@_dash_if_missing
def pct(value: Any, decimals: int = 1) -> str:
    """A fraction as a percentage: 0.9834 -> '98.3%'."""
    return f"{float(value) * 100:.{decimals}f}%"


@_dash_if_missing
def signed_pct(value: Any, decimals: int = 1) -> str:
    return f"{float(value) * 100:+.{decimals}f}%"


@_dash_if_missing
def signed_pp(value: Any, decimals: int = 1) -> str:
    """A difference of two fractions in percentage points: 0.012 -> '+1.2 pp'."""
    return f"{float(value) * 100:+.{decimals}f} pp"


@_dash_if_missing
def signed_number(value: Any, decimals: int = 2) -> str:
    return f"{float(value):+,.{decimals}f}"


def as_date(value: object) -> dt.date | None:
    if is_missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()  # type: ignore[arg-type]


def month_label(value: object) -> str:
    day = as_date(value)
    return MISSING if day is None else day.strftime("%b %Y")


def format_value(value: object, kind: Kind, currency: str = "USD") -> str:
    if is_missing(value):
        return "" if kind == "text" else MISSING
    if kind == "money":
        return money(value, currency)
    if kind == "money_precise":
        return money(value, currency, decimals=2)
    if kind == "int":
        return integer(value)
    if kind in ("number", "ratio"):
        return number(value)
    if kind == "general":
        return f"{float(value):,.6g}"  # type: ignore[arg-type]
    if kind == "pct":
        return pct(value)
    if kind == "pct_change":
        return signed_pct(value)
    if kind == "percent":
        return f"{float(value):.1f}%"  # type: ignore[arg-type]
    if kind == "date":
        return as_date(value).isoformat()  # type: ignore[union-attr]
    if kind == "month":
        return month_label(value)
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:g}"
    return str(value)


def format_change(value: float | None, change_kind: str) -> str:
    if change_kind == "pct":
        return signed_pct(value)
    if change_kind == "pp":
        return signed_pp(value)
    return signed_number(value)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"
