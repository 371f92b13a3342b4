"""Human formatting of numbers, shared by templates and tests (so tests look for exactly what readers see)."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from orchestration.reporting.content import Kind

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
MINUS = "-"  # ASCII minus: survives PDF text extraction and copy-paste into spreadsheets


def is_missing(value: object) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def money(value: object, currency: str = "USD", decimals: int = 0) -> str:
    if is_missing(value):
        return "–"
    number = float(value)  # type: ignore[arg-type]
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    sign = MINUS if number < 0 and round(abs(number), decimals) > 0 else ""
    return f"{sign}{symbol}{abs(number):,.{decimals}f}"


def integer(value: object) -> str:
    if is_missing(value):
        return "–"
    return f"{round(float(value)):,d}"  # type: ignore[arg-type]


def number(value: object, decimals: int = 2) -> str:
    if is_missing(value):
        return "–"
    return f"{float(value):,.{decimals}f}"  # type: ignore[arg-type]


def pct(value: object, decimals: int = 1) -> str:
    """A fraction as a percentage: 0.9834 -> '98.3%'."""
    if is_missing(value):
        return "–"
    return f"{float(value) * 100:.{decimals}f}%"  # type: ignore[arg-type]


def signed_pct(value: object, decimals: int = 1) -> str:
    if is_missing(value):
        return "–"
    return f"{float(value) * 100:+.{decimals}f}%"  # type: ignore[arg-type]


def signed_pp(value: object, decimals: int = 1) -> str:
    """A difference of two fractions in percentage points: 0.012 -> '+1.2 pp'."""
    if is_missing(value):
        return "–"
    return f"{float(value) * 100:+.{decimals}f} pp"  # type: ignore[arg-type]


def signed_number(value: object, decimals: int = 2) -> str:
    if is_missing(value):
        return "–"
    return f"{float(value):+,.{decimals}f}"  # type: ignore[arg-type]


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
    return "–" if day is None else day.strftime("%b %Y")


def format_value(value: object, kind: Kind, currency: str = "USD") -> str:
    if kind == "money":
        return money(value, currency)
    if kind == "money_precise":
        return money(value, currency, decimals=2)
    if kind == "int":
        return integer(value)
    if kind == "number":
        return number(value)
    if kind == "ratio":
        return number(value)
    if kind == "general":
        return "–" if is_missing(value) else f"{float(value):,.6g}"  # type: ignore[arg-type]
    if kind == "pct":
        return pct(value)
    if kind == "pct_change":
        return signed_pct(value)
    if kind == "percent":
        return "–" if is_missing(value) else f"{float(value):.1f}%"  # type: ignore[arg-type]
    if kind == "date":
        day = as_date(value)
        return "–" if day is None else day.isoformat()
    if kind == "month":
        return month_label(value)
    if is_missing(value):
        return ""
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
