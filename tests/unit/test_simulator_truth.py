"""Ground truth agrees with an independent re-computation from the source tables (docs/metric_rules.md)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from orchestration.sources.simulator.fx import load_fx_rates

from .simulator_helpers import AS_OF, CONFIG, simulator, tables

FACTOR = {0: Decimal(52) / Decimal(12), 1: Decimal(1), 2: Decimal(1) / 12, 3: Decimal(1) / 3, 4: Decimal(1) / 6}
INTERVAL_MONTHS = {0: Decimal(12) / Decimal(52), 1: Decimal(1), 2: Decimal(12), 3: Decimal(3), 4: Decimal(6)}
CENT = Decimal("0.01")


def _snapshots() -> list[tuple[dt.date, pd.Timestamp]]:
    out, month = [], CONFIG.start_date.replace(day=1)
    while month <= AS_OF:
        nxt = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        end = min(nxt, AS_OF + dt.timedelta(days=1))
        out.append((month, pd.Timestamp(end) - pd.Timedelta(microseconds=1)))
        month = nxt
    return out


def recompute_mrr() -> pd.DataFrame:
    src = {k: v.to_pandas() for k, v in tables().items() if k.startswith("lago.")}
    customers, plans = src["lago.customers"], src["lago.plans"].set_index("id")
    subs = src["lago.subscriptions"].join(plans[["amount_cents", "interval", "trial_period", "code"]], on="plan_id")
    invoices, payments = src["lago.invoices"], src["lago.payments"]
    coupons = src["lago.applied_coupons"]
    paid = payments[payments.payable_payment_status == "succeeded"]
    internal = customers.email.str.split("@").str[-1].isin(CONFIG.internal_email_domains)
    rows = []
    for month, t in _snapshots():
        active = subs[
            subs.started_at.notna() & (subs.started_at <= t) & (subs.terminated_at.isna() | (subs.terminated_at > t))
        ]
        trial_end = active.trial_ended_at.fillna(active.started_at + pd.to_timedelta(active.trial_period, unit="D"))
        in_trial = (active.trial_period > 0) & (t < trial_end)
        cp = coupons[(coupons.created_at <= t) & (coupons.terminated_at.isna() | (coupons.terminated_at > t))]
        late = invoices[
            (invoices.status == 1)
            & (invoices.total_amount_cents > 0)
            & (
                pd.to_datetime(invoices.payment_due_date) + pd.Timedelta(days=CONFIG.delinquency_churn_days)
                < pd.Timestamp(t.date())
            )
        ]
        settled = set(paid[paid.created_at <= t].invoice_id)
        delinquent = set(late[~late.id.isin(settled)].customer_id)
        for _, customer in customers[
            ~internal & (customers.created_at.dt.to_period("M") <= pd.Period(month, "M"))
        ].iterrows():
            mine = active[active.customer_id == customer.id]
            trial = in_trial[active.customer_id == customer.id]
            price = sum(
                (
                    Decimal(int(a)) / 100 * FACTOR[i]
                    for a, i, tr in zip(mine.amount_cents, mine.interval, trial, strict=True)
                    if not tr
                ),
                Decimal(0),
            )
            largest = None
            if len(mine):
                norm = [
                    Decimal(int(a)) / 100 * FACTOR[i] for a, i in zip(mine.amount_cents, mine.interval, strict=True)
                ]
                largest = sorted(
                    zip(norm, mine.started_at, mine.id, mine.interval, mine.code, strict=True),
                    key=lambda r: (-r[0], r[1], r[2]),
                )[0]
            my_coupons = cp[cp.customer_id == customer.id]
            pct = min(Decimal(str(my_coupons.percentage_rate.fillna(0).sum())), Decimal(100))
            fixed = Decimal(int(my_coupons.amount_cents.fillna(0).sum())) / 100
            spread = fixed / INTERVAL_MONTHS[largest[3]] if largest and fixed else Decimal(0)
            value = max(Decimal(0), price * (1 - pct / 100) - spread).quantize(CENT, ROUND_HALF_UP)
            if customer.id in delinquent:
                value = Decimal("0.00")
            rows.append((customer.external_id, month, customer.currency, value, largest[4] if largest else None))
    return pd.DataFrame(
        rows, columns=["customer_external_id", "month", "currency", "mrr_billing_currency", "plan_code"]
    )


def test_truth_mrr_equals_independent_recomputation_to_the_cent() -> None:
    truth = simulator().truth(AS_OF)["mrr"]
    mine = recompute_mrr()
    assert len(truth) == len(mine) > 1000
    merged = truth.merge(mine, on=["customer_external_id", "month"], suffixes=("", "_recomputed"), validate="1:1")
    assert len(merged) == len(truth)
    bad = merged[merged.mrr_billing_currency != merged.mrr_billing_currency_recomputed]
    assert bad.empty, bad.head(10).to_string()
    assert (merged.plan_code.fillna("") == merged.plan_code_recomputed.fillna("")).all()
    rates = load_fx_rates()
    expected = [
        (b * rates[(m, c)] / rates[(m, CONFIG.reporting_currency)]).quantize(CENT, ROUND_HALF_UP)
        for b, m, c in zip(merged.mrr_billing_currency, merged.month, merged.currency, strict=True)
    ]
    assert list(merged.mrr) == expected
    assert set(merged.currency) == {"USD", "EUR", "GBP"} and merged.is_paying.sum() > 300
    assert (~merged.is_closed_month).sum() == merged.customer_external_id.nunique() - 0  # only the as-of month
    assert (merged[~merged.is_closed_month].month == AS_OF.replace(day=1)).all()


def test_movement_identity_holds_every_month() -> None:
    truth = simulator().truth(AS_OF)
    mrr, movements = truth["mrr"], truth["movements"]
    ending = mrr.groupby("month").mrr.sum()
    starting = ending.shift(1, fill_value=Decimal(0))
    moved = movements.groupby("month")[["movement_amount", "fx_adjustment"]].sum()
    for month in ending.index:
        delta = moved.loc[month].sum() if month in moved.index else Decimal(0)
        assert ending[month] == starting[month] + delta, month
    kinds = set(movements.movement_type.dropna())
    assert kinds == {"new", "expansion", "contraction", "churn", "reactivation"}
    assert (movements.fx_adjustment != 0).any()


def test_hazard_incidents_and_customers_truth() -> None:
    truth = simulator().truth(AS_OF)
    hazard = truth["churn_hazard"]
    # churn is concentrated: most paying customers have a low hazard; collapsed usage or dunning gives a high one
    assert hazard.hazard.between(0, 1).all() and 0.002 < hazard.hazard.median() < 0.03
    assert 0.01 < hazard.hazard.mean() < 0.08 and hazard.hazard.quantile(0.99) > 0.2
    assert {"provider", "model", "customer"} >= set(truth["incidents"].scope_kind) and len(truth["incidents"]) > 0
    customers = truth["customers"]
    assert customers.is_internal.sum() > 0 and set(customers.channel) == {
        "organic",
        "paid_search",
        "referral",
        "partner",
        "social",
    }


def test_hazard_reads_the_realized_activity_windows() -> None:
    """The hazard's usage and login inputs are running sums of what the sources record: requests of the last 30 and
    120 days (an injected runaway job aside) and logins of the last 30, per customer, as of the last simulated day."""
    sim = simulator()
    sim.truth(AS_OF)
    world, last = sim.world, sim.world.day
    requests, logins = np.zeros((2, world.cust.n), np.int64), np.zeros(world.cust.n, np.int64)
    for day in range(last - 119, last + 1):
        usage = world.usage_counts[day]
        counts = np.bincount(usage.customers, weights=usage.requests, minlength=world.cust.n).astype(np.int64)
        runaway = world.incidents.get(day, {})
        if "extra_requests" in runaway:
            customer = runaway["customer"]
            counts[customer] = max(counts[customer] - runaway["extra_requests"], 0)
        requests[1] += counts
        if day > last - 30:
            requests[0] += counts
            seen, day_logins, _ = world.login_counts[day]
            np.add.at(logins, world.users["cust"][seen], day_logins)
    np.testing.assert_array_equal(world.cust["requests_30d"], requests[0])
    np.testing.assert_array_equal(world.cust["requests_120d"], requests[1])
    np.testing.assert_array_equal(world.cust["logins_30d"], logins)
    assert requests[0].sum() > 0 and logins.sum() > 0
