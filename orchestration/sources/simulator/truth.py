"""Ground truth (read only by tests and benchmarks): MRR per customer-month and its movements exactly as
docs/metric_rules.md defines them, the true churn hazard, injected incidents and latent attributes."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from .catalog import CURRENCIES, MRR_UNITS_PER_CENT, TIERS
from .clock import NULL_TS, US_PER_DAY, date_of, epoch_day, month_starts, next_month
from .fx import load_fx_rates, rate
from .tables import Names, ids
from .world import CHANNELS, World

CENT = Decimal("0.01")
_UNITS = np.array([MRR_UNITS_PER_CENT[i] for i in range(5)], dtype=np.int64)  # by Lago interval code


def snapshot_instants(world: World, last_day: int) -> list[tuple[dt.date, int, bool]]:
    """(month, t, is_closed_month): the last instant of each month, or the end of the as-of day."""
    start = world.cfg.start_date
    as_of = date_of(start, last_day)
    out = []
    for month in month_starts(start, as_of):
        end_day = min(next_month(month), as_of + dt.timedelta(days=1))
        t = (epoch_day(end_day)) * US_PER_DAY - 1
        out.append((month, t, next_month(month) <= as_of + dt.timedelta(days=1)))
    return out


def _mrr_cents_at(world: World, t: int, subs: dict, coupons: dict, invoices: dict, paid_at: np.ndarray, n: int):
    """Billing-currency MRR in cents per customer at instant t, plus the plan of the largest subscription."""
    cat = world.catalog
    plan = subs["plan"]
    started = subs["started_at"]
    active = (started != NULL_TS) & (started <= t) & ((subs["terminated_at"] == NULL_TS) | (subs["terminated_at"] > t))
    trial_end = np.where(
        subs["trial_ended_at"] != NULL_TS, subs["trial_ended_at"], started + cat.trial_days[plan] * US_PER_DAY
    )
    in_trial = (cat.trial_days[plan] > 0) & (t < trial_end)
    units = cat.amount_cents[plan] * _UNITS[cat.interval[plan]]  # 1/1200 cent
    total = np.bincount(subs["cust"][active], weights=(units * ~in_trial)[active], minlength=n).astype(np.int64)
    # largest active subscription: by normalised price, then earliest started_at, then id
    a = np.flatnonzero(active)
    order = np.lexsort((subs["_id"][a], started[a], -units[a], subs["cust"][a]))
    a = a[order]
    first = np.ones(a.size, bool)
    first[1:] = subs["cust"][a][1:] != subs["cust"][a][:-1]
    largest = np.full(n, -1)
    largest[subs["cust"][a[first]]] = a[first]
    # applied coupons active at t
    c_active = (coupons["created_at"] <= t) & ((coupons["terminated_at"] == NULL_TS) | (coupons["terminated_at"] > t))
    pct = np.minimum(np.bincount(coupons["cust"][c_active], weights=coupons["pct"][c_active], minlength=n), 100).astype(
        np.int64
    )
    fixed = np.bincount(coupons["cust"][c_active], weights=coupons["fixed"][c_active], minlength=n).astype(np.int64)
    largest_interval = np.where(largest >= 0, cat.interval[plan[np.maximum(largest, 0)]], 1)
    value = total * (100 - pct) - fixed * _UNITS[largest_interval] * 100  # 1/120000 cent
    value = np.maximum(value, 0)
    cents = (2 * value + 120_000) // 240_000
    # delinquency: a finalized invoice with a positive total unpaid more than N days after its due date
    day_t = t // US_PER_DAY - epoch_day(world.cfg.start_date)
    overdue = (invoices["total"] > 0) & (invoices["due_day"] + world.cfg.delinquency_churn_days < day_t)
    overdue &= ~((paid_at != NULL_TS) & (paid_at <= t))
    overdue &= invoices["created_at"] <= t
    delinquent = np.zeros(n, bool)
    delinquent[invoices["cust"][overdue]] = True
    cents[delinquent] = 0
    return cents, largest


def build_truth(world: World, names: Names, last_day: int, cutoff: int) -> dict[str, pd.DataFrame]:
    cfg, c, cat = world.cfg, world.cust, world.catalog
    n = c.n
    subs = world.subscriptions.latest(None, cutoff)
    subs["_id"] = ids(world, "subscription", subs["_row"]).to_numpy(zero_copy_only=False).astype(str)
    ac = world.applied_coupons.latest(None, cutoff)
    from .catalog import COUPONS

    coupons = {
        "cust": ac["cust"],
        "created_at": ac["created_at"],
        "terminated_at": ac["terminated_at"],
        "pct": np.array([cp.percentage_rate or 0 for cp in COUPONS])[ac["coupon"]],
        "fixed": np.array([cp.amount_cents or 0 for cp in COUPONS])[ac["coupon"]],
    }
    inv = world.invoices.latest(None, cutoff)
    invoices = {
        "cust": inv["cust"],
        "due_day": inv["due_day"],
        "created_at": inv["created_at"],
        "total": inv["fees_cents"] - inv["coupons_cents"] + inv["taxes_cents"],
    }
    pay = world.payments.latest(None, cutoff)
    ok = pay["succeeded"]
    paid_at = np.full(inv["_row"].size, NULL_TS)
    position = np.searchsorted(inv["_row"], pay["invoice"][ok])
    # earliest succeeded payment per invoice (the rule only asks whether one exists by t)
    first_paid = pd.Series(pay["created_at"][ok]).groupby(position).min()
    paid_at[first_paid.index.to_numpy()] = first_paid.to_numpy()

    customers_created = world.customers.latest(None, cutoff)
    known = np.zeros(n, bool)
    known[customers_created["cust"]] = True
    created_month = (c["created_us"] // US_PER_DAY).astype("datetime64[D]").astype("datetime64[M]")
    rates = load_fx_rates()
    rows = []
    for month, t, closed in snapshot_instants(world, last_day):
        cents, largest = _mrr_cents_at(world, t, subs, coupons, invoices, paid_at, n)
        in_spine = known & ~c["is_internal"] & (created_month <= np.datetime64(month, "M"))
        for i in np.flatnonzero(in_spine):
            plan = subs["plan"][largest[i]] if largest[i] >= 0 else -1
            rows.append((i, month, closed, int(cents[i]), plan))
    mrr = pd.DataFrame(rows, columns=["cust", "month", "is_closed_month", "cents", "plan"])
    mrr["customer_external_id"] = names.external_id[mrr["cust"]]
    mrr["currency"] = np.array(CURRENCIES, dtype=object)[c["currency"][mrr["cust"]]]
    mrr["mrr_billing_currency"] = [Decimal(v) / 100 for v in mrr["cents"]]
    fx = {(m, cur): rate(rates, m, cur, cfg.reporting_currency) for m in mrr["month"].unique() for cur in CURRENCIES}
    mrr["fx_rate"] = [fx[(m, cur)] for m, cur in zip(mrr["month"], mrr["currency"], strict=True)]
    mrr["mrr"] = [
        (b * r).quantize(CENT, ROUND_HALF_UP) for b, r in zip(mrr["mrr_billing_currency"], mrr["fx_rate"], strict=True)
    ]
    mrr["is_paying"] = mrr["cents"] > 0
    has_plan = mrr["plan"] >= 0
    mrr["plan_code"] = np.where(has_plan, cat.code[np.maximum(mrr["plan"], 0)], None)
    mrr["tier"] = np.where(has_plan, np.array(TIERS, dtype=object)[cat.tier[np.maximum(mrr["plan"], 0)]], None)
    mrr = mrr.sort_values(["customer_external_id", "month"]).reset_index(drop=True)
    movements = _movements(mrr)
    truth = {
        "mrr": mrr[
            [
                "customer_external_id",
                "month",
                "currency",
                "mrr_billing_currency",
                "mrr",
                "fx_rate",
                "is_paying",
                "is_closed_month",
                "plan_code",
                "tier",
            ]
        ],
        "movements": movements,
        "churn_hazard": _hazard(world, names, last_day),
        "incidents": _incidents(world, names, last_day),
        "customers": _customers(world, names, known),
    }
    return truth


def _movements(mrr: pd.DataFrame) -> pd.DataFrame:
    out = []
    for customer, g in mrr.groupby("customer_external_id", sort=False):
        p_billing, p_reported, ever = Decimal(0), Decimal(0), False
        for month, c_billing, c_reported, fx_rate in zip(
            g["month"], g["mrr_billing_currency"], g["mrr"], g["fx_rate"], strict=True
        ):
            p_const = (p_billing * fx_rate).quantize(CENT, ROUND_HALF_UP)
            kind = None
            if p_billing == 0 and c_billing > 0:
                kind = "reactivation" if ever else "new"
            elif p_billing > 0 and c_billing == 0:
                kind = "churn"
            elif p_billing > 0 and c_billing > p_billing:
                kind = "expansion"
            elif p_billing > 0 and c_billing < p_billing:
                kind = "contraction"
            fx_adjustment = p_const - p_reported
            if kind or fx_adjustment:
                out.append(
                    (
                        customer,
                        month,
                        kind,
                        c_reported - p_const if kind else Decimal("0.00"),
                        fx_adjustment,
                        p_reported,
                        c_reported,
                    )
                )
            ever = ever or c_billing > 0
            p_billing, p_reported = c_billing, c_reported
    return pd.DataFrame(
        out,
        columns=[
            "customer_external_id",
            "month",
            "movement_type",
            "movement_amount",
            "fx_adjustment",
            "starting_mrr",
            "ending_mrr",
        ],
    )


def _hazard(world: World, names: Names, last_day: int) -> pd.DataFrame:
    frames = []
    for day, (cust, hazard) in sorted(world.hazard_log.items()):
        if day > last_day:
            continue
        keep = ~world.cust["is_internal"][cust]
        month = date_of(world.cfg.start_date, day).replace(day=1)
        frames.append(
            pd.DataFrame(
                {"customer_external_id": names.external_id[cust[keep]], "month": month, "hazard": hazard[keep]}
            )
        )
    if not frames:
        return pd.DataFrame(columns=["customer_external_id", "month", "hazard"])
    return pd.concat(frames, ignore_index=True)


def _incidents(world: World, names: Names, last_day: int) -> pd.DataFrame:
    rows = []
    for day, inc in sorted(world.incidents.items()):
        if day > last_day:
            continue
        scope = names.external_id[inc["customer"]] if inc["scope_kind"] == "customer" else inc["scope"]
        rows.append((date_of(world.cfg.start_date, day), inc["scope_kind"], scope, inc["metric"], inc["description"]))
    return pd.DataFrame(rows, columns=["day", "scope_kind", "scope", "metric", "description"])


def _customers(world: World, names: Names, known: np.ndarray) -> pd.DataFrame:
    c = world.cust
    i = np.flatnonzero(known)
    return pd.DataFrame(
        {
            "external_id": names.external_id[i],
            "channel": np.array(CHANNELS, dtype=object)[c["channel"][i]],
            "is_internal": c["is_internal"][i],
            "currency": np.array(CURRENCIES, dtype=object)[c["currency"][i]],
            "arrival_date": [date_of(world.cfg.start_date, d) for d in c["arrival_day"][i]],
            "engagement_mean": c["eng_mean"][i],
            "usage_intensity": c["intensity"][i],
            "error_proneness": c["err_prone"][i],
            "payment_risk": c["pay_risk"][i],
            "churn_noise": c["noise"][i],
            "preferred_tier": np.array(TIERS, dtype=object)[c["tier_pref"][i]],
        }
    )
