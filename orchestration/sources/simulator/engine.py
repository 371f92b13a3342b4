"""The day loop: one Python iteration per day, everything inside vectorised over customers."""

from __future__ import annotations

import numpy as np

from .arrivals import arrive
from .behaviour import monthly_hazard, simulate_activity, step_engagement
from .billing import run_billing
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
    simulate_activity(world, day, boost, incident.get("customer"))
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
    # an unpaid, failed invoice whose delinquency date falls in the next month may end in churn
    horizon = day + 31
    risky = (inv["payment_status"] == 2) & (inv["due_day"] + world.cfg.delinquency_churn_days + 1 <= horizon)
    at_risk = np.zeros(c.n, bool)
    at_risk[inv["cust"][risky]] = True
    from .billing import LATE_PAYMENT_SHARE

    dunning = np.where(at_risk[paying], 1.0 - 0.5 * LATE_PAYMENT_SHARE, 0.0)
    world.hazard_log[day] = (paying, 1.0 - (1.0 - voluntary) * (1.0 - dunning))
