"""Monthly FX rates (a smooth deterministic random walk), shared with dbt as the `fx_rates_monthly` seed."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np

from orchestration.settings import PROJECT_ROOT

FX_SEED_PATH = PROJECT_ROOT / "dbt_project" / "seeds" / "fx_rates_monthly.csv"
FX_CURRENCIES = ("USD", "EUR", "GBP", "JPY")
_START_RATE = {"EUR": 1.10, "GBP": 1.27, "JPY": 0.0072}
FIRST_MONTH, LAST_MONTH = dt.date(2020, 1, 1), dt.date(2030, 12, 1)


def generate_fx_rows() -> list[tuple[str, str, str]]:
    """(month, currency, rate_to_usd) rows; independent of the simulator seed so every company shares them."""
    n = (LAST_MONTH.year - FIRST_MONTH.year) * 12 + LAST_MONTH.month
    generator = np.random.default_rng(20200101)
    rows = []
    for currency in FX_CURRENCIES:
        if currency == "USD":
            path = np.ones(n)
        else:
            shocks = generator.normal(0.0, 0.012, n)
            smooth = np.convolve(shocks, np.ones(3) / 3, mode="same")  # smooth month-to-month moves
            path = _START_RATE[currency] * np.exp(np.cumsum(smooth))
        digits = 8 if currency == "JPY" else 6
        for i, rate in enumerate(path):
            month = dt.date(FIRST_MONTH.year + i // 12, i % 12 + 1, 1)
            rows.append((month.isoformat(), currency, f"{rate:.{digits}f}"))
    return rows


def write_fx_seed(path: Path = FX_SEED_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("month", "currency", "rate_to_usd"))
        writer.writerows(generate_fx_rows())
    return path


def load_fx_rates(path: Path = FX_SEED_PATH) -> dict[tuple[dt.date, str], Decimal]:
    """rate_to_usd per (month, currency), read from the same seed CSV that dbt loads."""
    if not path.exists():
        write_fx_seed(path)
    with path.open() as f:
        return {
            (dt.date.fromisoformat(r["month"]), r["currency"]): Decimal(r["rate_to_usd"]) for r in csv.DictReader(f)
        }


def rate(rates: dict[tuple[dt.date, str], Decimal], month: dt.date, currency: str, reporting: str) -> Decimal:
    """Rate from `currency` to the reporting currency in `month` (metric_rules.md)."""
    return rates[(month, currency)] / rates[(month, reporting)]
