"""The day loop: one Python iteration per day, everything inside vectorised over customers."""

from __future__ import annotations

import numpy as np

from .arrivals import arrive
from .behaviour import monthly_hazard, simulate_activity, step_engagement
from .billing import LATE_PAYMENT_SHARE, MAX_ATTEMPTS, run_billing
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
    """True probability of a churn movement next month, for customers paying now."""
    c, inv = world.cust, world.invoices
    paying = np.flatnonzero(c["state"] == PAYING)
    voluntary = monthly_hazard(world, day)[paying]
    # involuntary churn: a failed invoice whose dunning ends in termination within the next month. Once the
    # retries are exhausted the outcome is decided; before that, every remaining retry must fail too.
    horizon = day + 31
    failed = np.flatnonzero(inv["payment_status"] == 2)
    cut_day = inv["due_day"][failed] + world.cfg.delinquency_churn_days + 1 + 14
    retries_left = MAX_ATTEMPTS - inv["attempts"][failed]
    retry_fails = np.minimum(0.35 + 2 * c["pay_risk"][inv["cust"][failed]], 0.95)
    p_cut = np.where(
        inv["attempt_day"][failed] < 0,
        (inv["outcome"][failed] == 2) & (inv["outcome_day"][failed] > day) & (inv["outcome_day"][failed] <= horizon),
        (retry_fails**retries_left) * (1.0 - LATE_PAYMENT_SHARE) * (cut_day <= horizon),
    )
    dunning = np.zeros(c.n)
    np.maximum.at(dunning, inv["cust"][failed], p_cut.astype(float))
    world.hazard_log[day] = (paying, 1.0 - (1.0 - voluntary) * (1.0 - dunning[paying]))
