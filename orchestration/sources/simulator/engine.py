"""The day loop: one Python iteration per day, everything inside vectorised over customers."""

from __future__ import annotations

import calendar

import numpy as np

from .arrivals import arrive
from .behaviour import monthly_hazard, simulate_activity, step_engagement
from .billing import LATE_PAYMENT_DAYS, LATE_PAYMENT_SHARE, MAX_ATTEMPTS, run_billing
from .clock import date_of
from .identity import run_identity
from .lifecycle import run_lifecycle
from .usage import PROVIDERS, incident_for_day, provider_share
from .world import PAYING, World


def step(world: World, day: int) -> None:
    t0 = int(world.day_start(day))
    incident = incident_for_day(world, day)
    if incident:
        world.incidents[day] = incident
    boost = 0.0
    if incident.get("scope_kind") == "provider":
        boost = float(incident["error_boost"]) * float(provider_share()[PROVIDERS.index(incident["scope"])])
    arrive(world, day, t0)
    step_engagement(world, day)
    simulate_activity(world, day, boost, incident.get("customer"), int(incident.get("extra_requests", 0)))
    reactivated = run_lifecycle(world, day, t0)
    run_billing(world, day, t0)
    run_identity(world, day, t0, reactivated)
    if (date_of(world.cfg.start_date, day + 1)).day == 1:
        _record_hazard(world, day)
    world.day = day


def _record_hazard(world: World, day: int) -> None:
    """True probability of a churn movement next month (MRR > 0 now, 0 at the end of next month), for customers
    paying now: voluntary churn, or an invoice still unpaid and past the delinquency threshold at that month end."""
    c = world.cust
    paying = np.flatnonzero(c["state"] == PAYING)
    voluntary = monthly_hazard(world, day)[paying]
    next_month_end = day + calendar.monthrange(*_year_month(world, day + 1))[1]
    unpaid = np.ones(c.n)  # probability that none of the customer's open invoices makes it delinquent
    cust, p_delinquent = _delinquency_probabilities(world, next_month_end)
    np.multiply.at(unpaid, cust, 1.0 - p_delinquent)
    world.hazard_log[day] = (paying, 1.0 - (1.0 - voluntary) * unpaid[paying])


def _year_month(world: World, day: int) -> tuple[int, int]:
    d = date_of(world.cfg.start_date, day)
    return d.year, d.month


def _delinquency_probabilities(world: World, month_end: int) -> tuple[np.ndarray, np.ndarray]:
    """Per open invoice (customer, probability): still unpaid at the end of day `month_end` although overdue by more
    than the delinquency threshold. Every remaining payment attempt must fail, then no late manual payment may come
    by then. The outcome drawn when the retries run out is not used: the hazard is what the history so far implies."""
    inv = world.invoices
    open_ = np.flatnonzero((inv["payment_status"] != 1) & ((inv["attempt_day"] >= 0) | (inv["attempts"] > 0)))
    cust, attempts = inv["cust"][open_], inv["attempts"][open_]
    pay_risk = world.cust["pay_risk"][cust]
    retry_fails = np.minimum(0.35 + 2 * pay_risk, 0.95)
    first_fails = np.where(attempts == 0, pay_risk, 1.0)
    all_fail = first_fails * retry_fails ** (MAX_ATTEMPTS - np.maximum(attempts, 1))
    delinquent_day = inv["due_day"][open_] + world.cfg.delinquency_churn_days + 1
    paid_late_by_end = np.clip(month_end - delinquent_day + 1, 0, LATE_PAYMENT_DAYS) / LATE_PAYMENT_DAYS
    p = all_fail * (1.0 - LATE_PAYMENT_SHARE * paid_late_by_end) * (delinquent_day <= month_end)
    return cust, p
