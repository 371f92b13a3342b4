"""Day indexing, microsecond timestamps and the per-day random streams (prefix-stable determinism)."""

from __future__ import annotations

import datetime as dt
from enum import IntEnum

import numpy as np

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
NULL_TS = np.iinfo(np.int64).min  # "no value" for internal timestamp arrays
EPOCH = dt.date(1970, 1, 1)


class Stream(IntEnum):
    """One random stream per concern, so adding draws to one never shifts another."""

    ARRIVALS = 1
    BEHAVIOUR = 2
    LIFECYCLE = 3
    BILLING = 4
    IDENTITY = 5
    USAGE_EXPAND = 6
    EVENTS_EXPAND = 7
    INCIDENTS = 8
    STATIC = 9


def rng(seed: int, day: int, stream: Stream) -> np.random.Generator:
    return np.random.default_rng([seed, day + 1_000_000, int(stream)])


def epoch_day(d: dt.date) -> int:
    return (d - EPOCH).days


def day_start_us(start: dt.date, day: int | np.ndarray) -> int | np.ndarray:
    return (epoch_day(start) + day) * US_PER_DAY


def day_index(start: dt.date, d: dt.date) -> int:
    return (d - start).days


def date_of(start: dt.date, day: int) -> dt.date:
    return start + dt.timedelta(days=int(day))


def add_months(start: dt.date, day: np.ndarray, months: np.ndarray | int, anchor_dom: np.ndarray) -> np.ndarray:
    """Day index `months` calendar months after `day`, on day-of-month `anchor_dom` (clamped to month end)."""
    absolute = (np.asarray(day, dtype=np.int64) + epoch_day(start)).astype("datetime64[D]")
    month = absolute.astype("datetime64[M]") + np.asarray(months, dtype=np.int64)
    first = month.astype("datetime64[D]")
    days_in_month = ((month + 1).astype("datetime64[D]") - first).astype(np.int64)
    dom = np.minimum(np.asarray(anchor_dom, dtype=np.int64), days_in_month)
    return (first.astype(np.int64) + dom - 1) - epoch_day(start)


def day_of_month(start: dt.date, day: np.ndarray) -> np.ndarray:
    absolute = (np.asarray(day, dtype=np.int64) + epoch_day(start)).astype("datetime64[D]")
    return (absolute - absolute.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1


def month_starts(first: dt.date, last: dt.date) -> list[dt.date]:
    """First days of the months from `first`'s month to `last`'s month."""
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(dt.date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + 1, 1, 1) if d.month == 12 else dt.date(d.year, d.month + 1, 1)
