"""New customers: growth with weekly seasonality, acquisition channels, first users and first subscription."""

from __future__ import annotations

import numpy as np

from .catalog import MONTHLY, QUARTERLY, SEMIANNUAL, WEEKLY, YEARLY
from .clock import US_PER_DAY, US_PER_SECOND, Stream, rng
from .world import CHANNEL_ENGAGEMENT, CHANNEL_SHARE, FREE, TRIAL, World

GROWTH_PER_HORIZON = 3.0  # the arrival rate at the end of the horizon / at its start
WEEKDAY_FACTOR = np.array([1.15, 1.15, 1.15, 1.15, 1.15, 0.625, 0.625])  # Monday first; mean 1
CURRENCY_SHARE = np.array([0.6, 0.25, 0.15])
COUNTRIES_BY_CURRENCY = (("US", "CA"), ("DE", "FR", "NL", "ES"), ("GB",))
COUNTRIES = ("US", "CA", "DE", "FR", "NL", "ES", "GB")
TAX_RATE_PERCENT = np.array([0, 0, 19, 20, 21, 21, 20])  # by COUNTRIES index
TIMEZONES = ("", "UTC", "America/New_York", "America/Los_Angeles", "Europe/Berlin", "Europe/Paris", "Europe/London")
FREE_START_SHARE = 0.08


def arrival_rate(world: World, day: int) -> float:
    horizon = max(30.0, world.cfg.months * 30.44)
    growth = np.log(GROWTH_PER_HORIZON) / horizon
    base = world.cfg.n_customers * growth / (np.exp(growth * horizon) - 1)  # integral over the horizon = n
    weekday = (world.cfg.start_date.weekday() + day) % 7
    return float(base * np.exp(growth * min(day, horizon)) * WEEKDAY_FACTOR[weekday])


def arrive(world: World, day: int, t0: int) -> np.ndarray:
    g = rng(world.cfg.seed, day, Stream.ARRIVALS)
    n = int(g.poisson(arrival_rate(world, day)))
    if n == 0:
        return np.zeros(0, np.int64)
    cid = np.arange(world.cust.n, world.cust.n + n)
    created = t0 + np.sort(g.integers(0, US_PER_DAY - 3600 * US_PER_SECOND, n))
    channel = g.choice(len(CHANNEL_SHARE), n, p=CHANNEL_SHARE)
    currency = g.choice(3, n, p=CURRENCY_SHARE)
    country_offset, country_count = np.array([0, 2, 6]), np.array([2, 4, 1])
    country = country_offset[currency] + (g.random(n) * country_count[currency]).astype(np.int64)
    intensity = np.exp(g.normal(np.log(5.0), 0.9, n))
    tier_score = np.log(intensity) - np.log(5.0) + g.normal(0, 0.7, n)
    tier = np.where(tier_score > 1.1, 3, np.where(tier_score > 0.2, 2, 1))
    interval_draw = g.random(n)
    interval = np.select(
        [interval_draw < 0.72, interval_draw < 0.92, interval_draw < 0.945, interval_draw < 0.97],
        [MONTHLY, YEARLY, QUARTERLY, SEMIANNUAL],
        WEEKLY,
    )
    eng_mean = CHANNEL_ENGAGEMENT[channel] + g.normal(0, 0.5, n)
    net_term = g.choice(np.array([0, 15, 30]), n, p=[0.85, 0.1, 0.05])
    seats = 1 + g.poisson(np.array([0, 1, 3, 10])[tier])
    world.cust.append(
        n,
        arrival_day=day,
        created_us=created,
        channel=channel,
        is_internal=cid < world.cfg.n_internal_customers,
        currency=currency,
        country=country,
        net_term=net_term,
        seats=seats,
        intensity=intensity,
        tokens_per_request=np.exp(g.normal(np.log(2400), 0.4, n)),
        eng_mean=eng_mean,
        eng_base=eng_mean,
        eng=eng_mean + g.normal(0, 0.2, n),
        err_prone=np.clip(np.exp(g.normal(np.log(0.012), 0.7, n)), 0.001, 0.3),
        pay_risk=g.beta(1.2, 25, n),
        noise=g.normal(0, 1, n),
        tier_pref=tier,
        interval_pref=interval,
        err_ewma=0.012,
    )
    world.slot.append(2 * n)
    world.cust["row"][cid] = world.customers.insert(
        created,
        cust=cid,
        created_at=created,
        deleted_at=np.iinfo(np.int64).min,
        timezone=g.integers(0, len(TIMEZONES), n),
    )
    # first users: the owner plus some colleagues (more join later)
    first_users = 1 + g.binomial(seats - 1, 0.3)
    owner = np.repeat(cid, first_users)
    position = np.arange(owner.size) - np.repeat(np.cumsum(first_users) - first_users, first_users)
    world.users.insert(
        np.repeat(created, first_users) + position * 90 * US_PER_SECOND + 30 * US_PER_SECOND,
        cust=owner,
        role=np.minimum(position, 2),
        created_at=np.repeat(created, first_users) + position * 90 * US_PER_SECOND + 30 * US_PER_SECOND,
        enabled=True,
        deleted=False,
        email_verified=g.random(owner.size) < 0.85,
    )
    # first subscription: a trial of the preferred paid plan, or the free plan
    start_free = g.random(n) < FREE_START_SHARE
    cat = world.catalog
    plan = np.where(start_free, 0, cat.lookup(tier, interval, currency))
    at = created + 5 * 60 * US_PER_SECOND
    chain = world.new_chains(n)
    for free in (False, True):
        m = start_free == free
        rows = world.start_subscriptions(
            cid[m], plan[m], at[m], chain=chain[m], prev=np.full(m.sum(), -1), trial=not free
        )
        world.slot["sub"][2 * cid[m]] = rows
    world.cust["state"][cid] = np.where(start_free, FREE, TRIAL)
    return cid
