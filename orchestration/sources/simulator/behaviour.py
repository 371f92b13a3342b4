"""Latent engagement and what follows from it: usage volume, logins, errors experienced, churn hazard.

Engagement is latent; the churn hazard is not: it reads only behaviour a warehouse records (requests and logins
against the customer's own usual level, logins per user, errors, failed payments, plan use, tenure, channel), so
a model on the warehouse's features can in principle reach the true hazard."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .arrivals import WEEKDAY_FACTOR
from .catalog import TIERS
from .clock import Stream, rng
from .world import ACTIVE_STATES, CHANNEL_HAZARD, PAYING, World

ENGAGEMENT_PULL, ENGAGEMENT_VOL = 0.03, 0.07  # AR(1): mean reversion and daily volatility
# Disengagement episodes (a champion leaves, a project ends): the level engagement reverts to drops, so logins and
# usage collapse over the following weeks; some episodes end and engagement recovers to the customer's usual level.
DISENGAGE_DAILY, RECOVER_DAILY = 0.0011, 0.004
DISENGAGE_DROP = (1.0, 2.2)
LOGINS_PER_USER_DAY = 0.45
TIER_USAGE = 0.3 * np.array([0.5, 0.8, 1.4, 3.5])  # by tier (free, starter, pro, enterprise)
# The hazard compares the customer's requests in the last 30 days with its daily average over the 90 days before.
RECENT_DAYS, USUAL_DAYS = 30, 90
# Monthly churn hazard (logit): concentrated like real SaaS churn, low for engaged customers with a working card and
# a plan that fits, steep in the observable drivers (usage collapsed below its usual level, few logins per user,
# repeated payment failures, poor fit).
HAZARD_INTERCEPT = -5.3
HAZARD_ENGAGEMENT, HAZARD_USAGE_DECLINE = 1.5, 8.0
HAZARD_FAILED_PAYMENTS, HAZARD_POOR_FIT = 1.4, 0.9
DAYS_PER_MONTH = 30.44


def step_engagement(world: World, day: int) -> None:
    c = world.cust
    g = rng(world.cfg.seed, day, Stream.BEHAVIOUR)
    eng = c["eng"]
    eng += ENGAGEMENT_PULL * (c["eng_mean"] - eng) + ENGAGEMENT_VOL * g.standard_normal(c.n)
    draw, drop = g.random(c.n), g.uniform(*DISENGAGE_DROP, c.n)
    disengaged = c["eng_mean"] < c["eng_base"]
    c["eng_mean"][:] = np.where(
        disengaged,
        np.where(draw < RECOVER_DAILY, c["eng_base"], c["eng_mean"]),
        np.where(draw < DISENGAGE_DAILY, c["eng_base"] - drop, c["eng_mean"]),
    )


def customer_tier(world: World) -> np.ndarray:
    """Tier of each customer's main subscription (0 = none/free)."""
    main = world.slot["sub"][0::2]
    plan = np.where(main >= 0, world.subscriptions["plan"][np.maximum(main, 0)], 0)
    return np.where(main >= 0, world.catalog.tier[plan], 0)


class UsageDay(NamedTuple):
    customers: np.ndarray
    requests: np.ndarray
    user_first: np.ndarray  # offset into `users` of each busy customer's eligible users
    user_count: np.ndarray
    users: np.ndarray


def simulate_activity(
    world: World, day: int, incident_error_boost: float, runaway_customer: int | None = None, runaway_requests: int = 0
) -> None:
    """Requests per customer-day and logins per user-day (expanded into rows only when asked for)."""
    c = world.cust
    g = rng(world.cfg.seed, day + 500_000, Stream.BEHAVIOUR)
    active = np.isin(c["state"], ACTIVE_STATES)
    weekday = WEEKDAY_FACTOR[(world.cfg.start_date.weekday() + day) % 7]
    tier = customer_tier(world)
    users = world.users
    enabled = users["enabled"] & ~users["deleted"]
    n_users = np.bincount(users["cust"][enabled], minlength=c.n)
    lam = (
        world.cfg.usage_scale
        * c["intensity"]
        * np.exp(c["eng"])
        * TIER_USAGE[tier]
        * (0.6 + 0.4 * np.sqrt(n_users))
        * weekday
        * active
    )
    requests = g.poisson(lam)
    if runaway_customer is not None and active[runaway_customer]:
        requests[runaway_customer] += runaway_requests
    busy = np.flatnonzero(requests)
    # the users each busy customer's requests can come from, as of today (prefix-stable expansion)
    eligible = np.flatnonzero(enabled)
    eligible = eligible[np.argsort(users["cust"][eligible], kind="stable")]
    first = np.searchsorted(users["cust"][eligible], busy, side="left")
    last = np.searchsorted(users["cust"][eligible], busy, side="right")
    world.usage_counts[day] = UsageDay(busy, requests[busy], first, last - first, eligible)
    tokens = requests * c["tokens_per_request"]
    c["tokens_ewma"][:] = np.where(active, 0.9 * c["tokens_ewma"] + 0.1 * tokens, c["tokens_ewma"])
    world.slot["tokens"][0::2] += np.where(c["state"] == PAYING, tokens, 0.0)
    error_rate = np.minimum(c["err_prone"] + incident_error_boost, 1.0)
    c["err_ewma"][:] = np.where(requests > 0, 0.93 * c["err_ewma"] + 0.07 * error_rate, c["err_ewma"])
    c["fail_ewma"][:] *= 0.98
    # logins: users of live customers; churned customers' users rarely come back
    owner = users["cust"]
    live = enabled
    rate = LOGINS_PER_USER_DAY * np.exp(c["eng"][owner]) * weekday * np.where(active[owner], 1.0, 0.02)
    logins = g.poisson(rate * live)
    errors = g.poisson((0.03 + 0.08 * logins) * live)
    seen = np.flatnonzero(logins + errors)
    world.login_counts[day] = (seen, logins[seen], errors[seen])
    _update_activity_windows(world, day)


def _activity_on(world: World, day: int) -> tuple[np.ndarray, np.ndarray]:
    """Requests (without an injected runaway job's: an incident, not behaviour) and logins per customer on one
    simulated day; zeros before the first day."""
    n = world.cust.n
    if day < 0:
        return np.zeros(n, np.int64), np.zeros(n, np.int64)
    usage = world.usage_counts[day]
    requests = np.bincount(usage.customers, weights=usage.requests, minlength=n).astype(np.int64)
    runaway = world.incidents.get(day, {})
    if "extra_requests" in runaway:
        customer = int(runaway["customer"])
        requests[customer] = max(requests[customer] - int(runaway["extra_requests"]), 0)
    seen, logins, _ = world.login_counts[day]
    return requests, np.bincount(world.users["cust"][seen], weights=logins, minlength=n).astype(np.int64)


def _update_activity_windows(world: World, day: int) -> None:
    """Running sums over the trailing windows ending today: add today, drop the day that left each window."""
    c = world.cust
    requests, logins = _activity_on(world, day)
    left_recent, left_recent_logins = _activity_on(world, day - RECENT_DAYS)
    left_usual, _ = _activity_on(world, day - RECENT_DAYS - USUAL_DAYS)
    c["requests_30d"][:] += requests - left_recent
    c["requests_120d"][:] += requests - left_usual
    c["logins_30d"][:] += logins - left_recent_logins


def monthly_hazard(world: World, day: int) -> np.ndarray:
    """True monthly probability of voluntary churn per customer, from observable behaviour (plus a little
    customer-level noise)."""
    c = world.cust
    tier = customer_tier(world)
    quota = np.array([1.0] + [float(world.catalog.quota[world.catalog.tier == t].max()) for t in range(1, len(TIERS))])
    use_ratio = c["tokens_ewma"] * DAYS_PER_MONTH / quota[tier]
    poor_fit = np.clip(-np.log10(use_ratio + 1e-3) - 1.0, 0.0, 2.0)  # paying for far more than used
    tenure_months = np.where(c["paid_since_day"] >= 0, (day - c["paid_since_day"]) / DAYS_PER_MONTH, 0.0)
    # daily requests of the last 30 days vs the 90 before, in logs, when they fell (a collapse, e.g. after a champion
    # left); growth is no signal. Days before the customer existed count as no usage.
    recent = c["requests_30d"] / RECENT_DAYS
    usual = (c["requests_120d"] - c["requests_30d"]) / USUAL_DAYS
    usage_decline = np.maximum(np.log((usual + 1.0) / (recent + 1.0)), 0.0)
    users = world.users
    enabled = users["enabled"] & ~users["deleted"]
    seats = np.maximum(np.bincount(users["cust"][enabled], minlength=c.n), 1)
    logins_per_user_day = c["logins_30d"] / (RECENT_DAYS * seats)
    engagement = np.log((logins_per_user_day + 0.05) / LOGINS_PER_USER_DAY)  # ~ latent engagement, as seen
    logit = (
        HAZARD_INTERCEPT
        - HAZARD_ENGAGEMENT * engagement
        + HAZARD_USAGE_DECLINE * usage_decline
        + 25.0 * (c["err_ewma"] - 0.012)
        + HAZARD_FAILED_PAYMENTS * np.minimum(c["fail_ewma"], 3.0)
        + HAZARD_POOR_FIT * poor_fit
        - 0.35 * np.log1p(tenure_months)
        + CHANNEL_HAZARD[c["channel"]]
        + 0.3 * c["noise"]
    )
    return 1.0 / (1.0 + np.exp(-logit))


def trial_conversion_probability(world: World, cust: np.ndarray) -> np.ndarray:
    c = world.cust
    logit = (
        -0.2 + 1.3 * c["eng"][cust] + 0.3 * np.log1p(c["tokens_ewma"][cust] / 1e4) - 20 * (c["err_ewma"][cust] - 0.012)
    )
    return 1.0 / (1.0 + np.exp(-logit))
