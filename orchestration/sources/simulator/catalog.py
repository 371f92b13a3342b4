"""The company's price list: plans, token quotas (package charges), the billable metric and coupons."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

TIERS = ("free", "starter", "pro", "enterprise")
CURRENCIES = ("USD", "EUR", "GBP")
# Lago interval codes (schemas.PLAN_INTERVAL) and months per billing period (MRR normalisation).
WEEKLY, MONTHLY, YEARLY, QUARTERLY, SEMIANNUAL = 0, 1, 2, 3, 4
INTERVAL_NAMES = {
    WEEKLY: "weekly",
    MONTHLY: "monthly",
    YEARLY: "yearly",
    QUARTERLY: "quarterly",
    SEMIANNUAL: "semiannual",
}
INTERVAL_MONTHS = {MONTHLY: 1, QUARTERLY: 3, SEMIANNUAL: 6, YEARLY: 12}  # weekly: 7 days
# MRR in units of 1/1200 cent: amount_cents x this factor (monthly x1, quarterly /3, ... weekly x52/12).
MRR_UNITS_PER_CENT = {MONTHLY: 1200, QUARTERLY: 400, SEMIANNUAL: 200, YEARLY: 100, WEEKLY: 5200}
# Fixed coupons are spread over the interval of the largest subscription: 1200 / interval_months.
FIXED_COUPON_UNITS_PER_CENT = MRR_UNITS_PER_CENT

MONTHLY_PRICE_CENTS = {  # per tier and currency
    "starter": {"USD": 2900, "EUR": 2900, "GBP": 2500},
    "pro": {"USD": 9900, "EUR": 9500, "GBP": 7900},
    "enterprise": {"USD": 49900, "EUR": 47900, "GBP": 39900},
}
YEARLY_MONTHS_CHARGED = 10  # yearly plans: two months free
EXTRA_PLANS = (  # (tier, interval, currency, amount_cents): every MRR normalisation factor is exercised
    ("pro", QUARTERLY, "USD", 27900),
    ("pro", SEMIANNUAL, "USD", 53400),
    ("starter", WEEKLY, "USD", 800),
)
QUOTA_TOKENS = {"free": 0, "starter": 250_000, "pro": 1_500_000, "enterprise": 8_000_000}  # per month
PACKAGE_SIZE = 10_000
OVERAGE_PER_PACKAGE = {"starter": "0.20", "pro": "0.15", "enterprise": "0.10"}  # currency units per package


@dataclass(frozen=True)
class Coupon:
    code: str
    name: str
    coupon_type: int  # 0 fixed_amount, 1 percentage
    frequency: int  # 0 once, 1 recurring
    frequency_duration: int  # invoices it applies to
    percentage_rate: float | None = None
    amount_cents: int | None = None
    amount_currency: str | None = None


COUPONS: tuple[Coupon, ...] = (
    Coupon("WELCOME20", "Welcome 20% off, 3 months", 1, 1, 3, percentage_rate=20.0),
    Coupon("PARTNER15", "Partner 15% off, 6 months", 1, 1, 6, percentage_rate=15.0),
    Coupon("LAUNCH50", "Launch 50% off first invoice", 1, 0, 1, percentage_rate=50.0),
    *(
        Coupon(f"SAVE10_{cur}", f"{cur} 10 off, 4 invoices", 0, 1, 4, amount_cents=1000, amount_currency=cur)
        for cur in CURRENCIES
    ),
)


@dataclass(frozen=True)
class Catalog:
    """Plans as parallel numpy arrays (index = internal plan id)."""

    code: np.ndarray
    tier: np.ndarray  # index into TIERS
    interval: np.ndarray
    currency: np.ndarray  # index into CURRENCIES
    amount_cents: np.ndarray
    trial_days: np.ndarray
    quota: np.ndarray

    def lookup(self, tier: np.ndarray, interval: np.ndarray, currency: np.ndarray) -> np.ndarray:
        """Plan index per (tier, interval, currency); falls back to the monthly plan where absent."""
        key = (tier * 8 + interval) * 4 + currency
        table = np.full(TIER_KEY_SIZE, -1, dtype=np.int64)
        table[(self.tier * 8 + self.interval) * 4 + self.currency] = np.arange(len(self.code))
        found = table[key]
        monthly = table[(tier * 8 + MONTHLY) * 4 + currency]
        return np.where(found >= 0, found, monthly)

    def charge_properties(self, plan: int) -> str:
        tier = TIERS[self.tier[plan]]
        return json.dumps(
            {"amount": OVERAGE_PER_PACKAGE[tier], "free_units": int(QUOTA_TOKENS[tier]), "package_size": PACKAGE_SIZE}
        )

    def overage_cents_per_package(self) -> np.ndarray:
        return np.array([round(float(OVERAGE_PER_PACKAGE.get(TIERS[t], "0")) * 100) for t in self.tier], dtype=np.int64)


TIER_KEY_SIZE = len(TIERS) * 8 * 4


def build_catalog(trial_days: int) -> Catalog:
    rows: list[tuple[str, int, int, int, int, int]] = [("free", 0, MONTHLY, 0, 0, 0)]
    for tier in ("starter", "pro", "enterprise"):
        for interval in (MONTHLY, YEARLY):
            for ci, cur in enumerate(CURRENCIES):
                monthly = MONTHLY_PRICE_CENTS[tier][cur]
                amount = monthly if interval == MONTHLY else monthly * YEARLY_MONTHS_CHARGED
                code = f"{tier}_{INTERVAL_NAMES[interval]}_{cur.lower()}"
                rows.append((code, TIERS.index(tier), interval, ci, amount, trial_days))
    for tier, interval, cur, amount in EXTRA_PLANS:
        code = f"{tier}_{INTERVAL_NAMES[interval]}_{cur.lower()}"
        rows.append((code, TIERS.index(tier), interval, CURRENCIES.index(cur), amount, trial_days))
    code, tier, interval, currency, amount, trial = zip(*rows, strict=True)
    tiers = np.array(tier)
    return Catalog(
        code=np.array(code, dtype=object),
        tier=tiers,
        interval=np.array(interval),
        currency=np.array(currency),
        amount_cents=np.array(amount, dtype=np.int64),
        trial_days=np.array(trial),
        quota=np.array([QUOTA_TOKENS[TIERS[t]] for t in tiers], dtype=np.int64),
    )
