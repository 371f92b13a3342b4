"""Invoices per period (subscription fee in advance, token overage in arrears), coupons, payments with
retries, dunning (late payment or termination), refunds via credit notes."""

from __future__ import annotations

import numpy as np

from .arrivals import TAX_RATE_PERCENT
from .catalog import COUPONS, INTERVAL_MONTHS, PACKAGE_SIZE, WEEKLY
from .clock import NULL_TS, US_PER_SECOND, Stream, add_months, day_of_month, day_start_us, rng
from .world import ACTIVE_STATES, CHURNED_UNPAID, World

BILLING_HOUR_US = 3600 * US_PER_SECOND
RETRY_DELAYS = np.array([0, 3, 5, 7])  # days after the previous failed attempt
MAX_ATTEMPTS = 4
LATE_PAYMENT_SHARE = 0.45  # dunning ends with a late manual payment (else the subscription is terminated)
LATE_PAYMENT_DAYS = 25  # a late payment comes on one of the first N days of delinquency (uniformly)
REFUND_SHARE = 0.02
COUPON_PCT = np.array([c.percentage_rate or 0.0 for c in COUPONS])
COUPON_FIXED = np.array([c.amount_cents or 0 for c in COUPONS], dtype=np.int64)
COUPON_IS_PCT = np.array([c.coupon_type == 1 for c in COUPONS])


def _round_half_up_div(numerator: np.ndarray, denominator: int) -> np.ndarray:
    """round(n / d) half away from zero, exact on integers (n >= 0)."""
    return (2 * numerator + denominator) // (2 * denominator)


def next_fee_day(world: World, day: np.ndarray, interval: np.ndarray, dom: np.ndarray) -> np.ndarray:
    months = np.array([INTERVAL_MONTHS.get(i, 0) for i in range(5)])[interval]
    return np.where(interval == WEEKLY, day + 7, add_months(world.cfg.start_date, day, months, dom))


def anchor_billing(world: World, slots: np.ndarray, day: int, at_us: np.ndarray, *, charges: bool) -> None:
    """Start a new billing period today (conversion, upgrade, new chain); usage periods too if `charges`."""
    s = world.slot
    dom = day_of_month(world.cfg.start_date, np.full(slots.size, day))
    s["fee_day"][slots] = day
    s["fee_dom"][slots] = dom
    if charges:
        s["charge_dom"][slots] = dom
        s["charge_day"][slots] = add_months(world.cfg.start_date, np.full(slots.size, day), 1, dom)
        s["charge_from_us"][slots] = at_us
        s["tokens"][slots] = 0.0


def issue_invoices(world: World, day: int, slots: np.ndarray, at_us: np.ndarray, g: np.random.Generator) -> None:
    """One invoice per slot: the subscription fee if its period starts today, overage if its usage month ended."""
    if slots.size == 0:
        return
    s, c, cat = world.slot, world.cust, world.catalog
    cust = slots // 2
    sub = s["sub"][slots]
    plan = world.subscriptions["plan"][sub]
    with_fee = s["fee_day"][slots] == day
    with_charge = s["charge_day"][slots] == day
    # subscription fee, period [at, next period start)
    fee_cents = np.where(with_fee, cat.amount_cents[plan], 0)
    nxt = next_fee_day(world, np.full(slots.size, day), cat.interval[plan], s["fee_dom"][slots])
    s["period_start_us"][slots] = np.where(with_fee, at_us, s["period_start_us"][slots])
    s["fee_day"][slots] = np.where(with_fee, nxt, s["fee_day"][slots])
    period_to = day_start_us(world.cfg.start_date, s["fee_day"][slots]) + BILLING_HOUR_US
    # usage overage (package charge) for the usage month that ended
    units = np.where(with_charge, np.round(s["tokens"][slots]), 0.0)
    packages = np.ceil(np.maximum(units - cat.quota[plan], 0) / PACKAGE_SIZE).astype(np.int64)
    charge_cents = np.where(with_charge & (plan > 0), packages * cat.overage_cents_per_package()[plan], 0)
    charges_from = np.where(with_charge, s["charge_from_us"][slots], NULL_TS)
    charges_to = np.where(with_charge, at_us, NULL_TS)
    s["charge_from_us"][slots] = np.where(with_charge, at_us, s["charge_from_us"][slots])
    s["tokens"][slots] = np.where(with_charge, 0.0, s["tokens"][slots])
    s["charge_day"][slots] = np.where(
        with_charge,
        add_months(world.cfg.start_date, np.full(slots.size, day), 1, s["charge_dom"][slots]),
        s["charge_day"][slots],
    )
    # coupons apply to the main chain's subscription fee; Lago terminates them when used up
    coupons_cents = np.zeros(slots.size, np.int64)
    coupon_row = c["coupon_row"][cust]
    ac = world.applied_coupons
    uses = (slots % 2 == 0) & (fee_cents > 0) & (coupon_row >= 0)
    uses[uses] &= ac["status"][coupon_row[uses]] == 0
    if uses.any():
        rows = coupon_row[uses]
        kind = ac["coupon"][rows]
        pct_discount = _round_half_up_div(fee_cents[uses] * np.round(COUPON_PCT[kind] * 100).astype(np.int64), 10_000)
        discount = np.where(COUPON_IS_PCT[kind], pct_discount, np.minimum(COUPON_FIXED[kind], fee_cents[uses]))
        coupons_cents[uses] = discount
        remaining = ac["remaining"][rows] - 1
        done = remaining <= 0
        ac.update(rows[~done], at_us[uses][~done], remaining=remaining[~done])
        ac.update(rows[done], at_us[uses][done], remaining=0, status=1, terminated_at=at_us[uses][done])
    fees_cents = fee_cents + charge_cents
    keep = fees_cents > 0
    if not keep.any():
        return
    slots, cust, sub, plan, at_us = slots[keep], cust[keep], sub[keep], plan[keep], at_us[keep]
    fee_cents, charge_cents, fees_cents, coupons_cents = (
        fee_cents[keep],
        charge_cents[keep],
        fees_cents[keep],
        coupons_cents[keep],
    )
    units, charges_from, charges_to, period_to = units[keep], charges_from[keep], charges_to[keep], period_to[keep]
    tax_rate = TAX_RATE_PERCENT[c["country"][cust]]
    subtotal = fees_cents - coupons_cents
    taxes = _round_half_up_div(subtotal * tax_rate, 100)
    total = subtotal + taxes
    net_term = c["net_term"][cust]
    attempt = np.where(net_term == 0, day, day + 1 + (g.random(slots.size) * np.maximum(net_term, 1)).astype(np.int64))
    invoices = world.invoices.insert(
        at_us,
        cust=cust,
        issuing_day=day,
        due_day=day + net_term,
        payment_status=np.where(total > 0, 0, 1),
        fees_cents=fees_cents,
        coupons_cents=coupons_cents,
        taxes_cents=taxes,
        created_at=at_us,
        fee_sub_row=-1,
        fee_charge_row=-1,
        attempt_day=np.where(total > 0, attempt, -1),
        attempts=0,
        outcome=0,
        outcome_day=-1,
        refund_day=-1,
    )
    for fee_type, amount, fee_units, column in (
        (2, fee_cents, np.ones(slots.size), "fee_sub_row"),
        (0, charge_cents, units, "fee_charge_row"),
    ):
        m = amount > 0
        rows = world.fees.insert(
            at_us[m],
            invoice=invoices[m],
            sub=sub[m],
            fee_type=fee_type,
            amount_cents=amount[m],
            taxes_cents=_round_half_up_div(amount[m] * tax_rate[m], 100),
            units=fee_units[m],
            payment_status=0,
            plan=plan[m],
            created_at=at_us[m],
        )
        world.invoices[column][invoices[m]] = rows
    world.invoice_subscriptions.insert(
        at_us,
        invoice=invoices,
        sub=sub,
        from_us=s["period_start_us"][slots],
        to_us=period_to,
        charges_from_us=charges_from,
        charges_to_us=charges_to,
        created_at=at_us,
    )


def _mark_paid(world: World, invoices: np.ndarray, at_us: np.ndarray, fee_status: int = 1) -> None:
    inv = world.invoices
    inv.update(invoices, at_us, payment_status=1, attempt_day=-1)
    for column in ("fee_sub_row", "fee_charge_row"):
        fee_rows = inv[column][invoices]
        m = fee_rows >= 0
        world.fees.update(fee_rows[m], at_us[m], payment_status=fee_status)


def _total_cents(world: World, invoices: np.ndarray) -> np.ndarray:
    inv = world.invoices
    return inv["fees_cents"][invoices] - inv["coupons_cents"][invoices] + inv["taxes_cents"][invoices]


def run_billing(world: World, day: int, t0: int) -> None:
    g = rng(world.cfg.seed, day, Stream.BILLING)
    s, subs, inv = world.slot, world.subscriptions, world.invoices
    at = t0 + BILLING_HOUR_US
    # downgrades waiting for the period end take effect first
    switching = np.flatnonzero((s["pending"] >= 0) & (s["fee_day"] == day) & (s["sub"] >= 0))
    if switching.size:
        world.terminate_subscriptions(s["sub"][switching], np.full(switching.size, at))
        pending = s["pending"][switching]
        subs.update(pending, at, status=1, started_at=at, trial_ended_at=at)
        s["sub"][switching] = pending
        s["pending"][switching] = -1
    due = np.flatnonzero((s["sub"] >= 0) & ((s["fee_day"] == day) | (s["charge_day"] == day)))
    issue_invoices(world, day, due, at + (due % 3600) * US_PER_SECOND, g)

    # payment attempts (card charges and retries)
    pay_at = t0 + 2 * BILLING_HOUR_US + g.integers(0, 6 * 3600, inv.n) * US_PER_SECOND
    attempt = np.flatnonzero((inv["attempt_day"] == day) & (inv["payment_status"] != 1))
    if attempt.size:
        risk = world.cust["pay_risk"][inv["cust"][attempt]]
        retry = inv["attempts"][attempt] > 0
        ok = g.random(attempt.size) >= np.where(retry, np.minimum(0.35 + 2 * risk, 0.95), risk)
        when = np.maximum(pay_at[attempt], inv["created_at"][attempt] + 60 * US_PER_SECOND)
        world.payments.insert(
            when, invoice=attempt, amount_cents=_total_cents(world, attempt), succeeded=ok, created_at=when
        )
        _mark_paid(world, attempt[ok], when[ok])
        refund = ok & (g.random(attempt.size) < REFUND_SHARE)
        inv["refund_day"][attempt[refund]] = day + g.integers(1, 21, int(refund.sum()))
        failed, when_failed = attempt[~ok], when[~ok]
        world.cust["fail_ewma"][inv["cust"][failed]] += 1.0
        attempts = inv["attempts"][failed] + 1
        exhausted = attempts >= MAX_ATTEMPTS
        next_day = np.where(exhausted, -1, day + RETRY_DELAYS[np.minimum(attempts, MAX_ATTEMPTS - 1)])
        late = g.random(failed.size) < LATE_PAYMENT_SHARE
        delinquent_day = inv["due_day"][failed] + world.cfg.delinquency_churn_days + 1
        outcome_day = np.where(
            late,
            np.maximum(delinquent_day + g.integers(0, LATE_PAYMENT_DAYS, failed.size), day + 1),
            np.maximum(delinquent_day + 14, day + 1),
        )
        inv.update(
            failed,
            when_failed,
            payment_status=2,
            attempts=attempts,
            attempt_day=next_day,
            outcome=np.where(exhausted, np.where(late, 1, 2), 0),
            outcome_day=np.where(exhausted, outcome_day, -1),
        )

    # dunning outcomes: a late manual payment, or Lago terminates the subscriptions
    ending = np.flatnonzero((inv["outcome_day"] == day) & (inv["payment_status"] != 1))
    late_pay = ending[inv["outcome"][ending] == 1]
    if late_pay.size:
        when = t0 + g.integers(8 * 3600, 20 * 3600, late_pay.size) * US_PER_SECOND
        world.payments.insert(
            when, invoice=late_pay, amount_cents=_total_cents(world, late_pay), succeeded=True, created_at=when
        )
        _mark_paid(world, late_pay, when)
    cut = np.unique(inv["cust"][ending[inv["outcome"][ending] == 2]])
    cut = cut[np.isin(world.cust["state"][cut], ACTIVE_STATES)]
    if cut.size:
        from .lifecycle import end_customers

        end_customers(world, cut, t0 + 9 * BILLING_HOUR_US, day, CHURNED_UNPAID)

    # refunds as credit notes
    refunds = np.flatnonzero(inv["refund_day"] == day)
    if refunds.size:
        total = _total_cents(world, refunds)
        full = g.random(refunds.size) < 0.6
        amount = np.where(full, total, total // 2)
        when = t0 + g.integers(8 * 3600, 20 * 3600, refunds.size) * US_PER_SECOND
        world.credit_notes.insert(
            when,
            invoice=refunds,
            reason=g.choice(6, refunds.size),
            refund_cents=amount,
            credit_cents=0,
            created_at=when,
        )
        inv["refund_day"][refunds] = -1
        for column in ("fee_sub_row", "fee_charge_row"):
            fee_rows = inv[column][refunds[full]]
            m = fee_rows >= 0
            world.fees.update(fee_rows[m], when[full][m], payment_status=3)
