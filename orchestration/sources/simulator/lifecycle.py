"""Subscription lifecycles with Lago semantics: trials, upgrades, pending downgrades, a second concurrent
chain, cancellations (voluntary churn) and reactivations."""

from __future__ import annotations

import numpy as np

from .behaviour import DAYS_PER_MONTH, monthly_hazard, trial_conversion_probability
from .billing import anchor_billing, issue_invoices
from .catalog import COUPONS, CURRENCIES, MONTHLY, WEEKLY
from .clock import NULL_TS, US_PER_DAY, US_PER_SECOND, Stream, rng
from .world import CHURNED, COUPON_PROPENSITY, FREE, LAPSED, PAYING, TRIAL, World

TRIAL_TO_FREE_SHARE = 0.3
UPGRADE_DAILY, FREE_UPGRADE_DAILY, DOWNGRADE_DAILY = 0.06, 0.01, 0.006
SECOND_CHAIN_DAILY, SECOND_CHAIN_CANCEL_DAILY = 0.0012, 0.004
REACTIVATION_DAILY, FREE_LEAVE_DAILY = 0.0012, 0.002
_PCT_COUPONS = np.array([i for i, c in enumerate(COUPONS) if c.coupon_type == 1 and not c.code.startswith("PARTNER")])
_PARTNER = next(i for i, c in enumerate(COUPONS) if c.code.startswith("PARTNER"))
_FIXED_BY_CURRENCY = np.array(
    [next(i for i, c in enumerate(COUPONS) if c.amount_currency == cur) for cur in CURRENCIES]
)


def _times(g: np.random.Generator, t0: int, n: int) -> np.ndarray:
    return t0 + g.integers(9 * 3600, 18 * 3600, n) * US_PER_SECOND


def _apply_coupons(world: World, cust: np.ndarray, at_us: np.ndarray, g: np.random.Generator) -> None:
    c = world.cust
    takes = g.random(cust.size) < COUPON_PROPENSITY[c["channel"][cust]]
    cust, at_us = cust[takes], at_us[takes]
    if cust.size == 0:
        return
    weekly = world.catalog.interval[world.subscriptions["plan"][world.slot["sub"][2 * cust]]] == WEEKLY
    pick = g.random(cust.size)
    coupon = np.where(
        c["channel"][cust] == 3,
        _PARTNER,
        np.where(
            (pick < 0.35) & ~weekly,
            _FIXED_BY_CURRENCY[c["currency"][cust]],
            _PCT_COUPONS[(pick * 7).astype(int) % len(_PCT_COUPONS)],
        ),
    )
    duration = np.array([cp.frequency_duration for cp in COUPONS])[coupon]
    c["coupon_row"][cust] = world.applied_coupons.insert(
        at_us, coupon=coupon, cust=cust, status=0, remaining=duration, terminated_at=NULL_TS, created_at=at_us
    )


def _become_paying(world: World, cust: np.ndarray, day: int, at_us: np.ndarray, g: np.random.Generator) -> None:
    c = world.cust
    c["state"][cust] = PAYING
    c["paid_since_day"][cust] = day
    slots = 2 * cust
    anchor_billing(world, slots, day, at_us, charges=True)
    issue_invoices(world, day, slots, at_us + US_PER_SECOND, g)


def end_trials(world: World, day: int, t0: int, g: np.random.Generator) -> None:
    c, subs = world.cust, world.subscriptions
    trial = np.flatnonzero(c["state"] == TRIAL)
    if trial.size == 0:
        return
    sub = world.slot["sub"][2 * trial]
    end_us = subs["started_at"][sub] + world.catalog.trial_days[subs["plan"][sub]] * US_PER_DAY
    today = (end_us >= t0) & (end_us < t0 + US_PER_DAY)
    trial, sub, end_us = trial[today], sub[today], end_us[today]
    converts = g.random(trial.size) < trial_conversion_probability(world, trial)
    # converted: the trial ends, the first invoice is issued (with a coupon for some)
    subs.update(sub[converts], end_us[converts], trial_ended_at=end_us[converts])
    _apply_coupons(world, trial[converts], end_us[converts], g)
    _become_paying(world, trial[converts], day, end_us[converts], g)
    # lapsed: terminated at trial end; some stay on the free plan (same external_id)
    lapsed, lsub, lend = trial[~converts], sub[~converts], end_us[~converts]
    world.terminate_subscriptions(lsub, lend)
    c["state"][lapsed] = LAPSED
    world.slot["sub"][2 * lapsed] = -1
    to_free = g.random(lapsed.size) < TRIAL_TO_FREE_SHARE
    rows = world.start_subscriptions(
        lapsed[to_free],
        np.zeros(int(to_free.sum()), np.int64),
        lend[to_free],
        chain=subs["chain"][lsub[to_free]],
        prev=lsub[to_free],
        trial=False,
    )
    world.slot["sub"][2 * lapsed[to_free]] = rows
    c["state"][lapsed[to_free]] = FREE


def _change_plan_now(
    world: World, cust: np.ndarray, new_plan: np.ndarray, day: int, at: np.ndarray, g: np.random.Generator
) -> None:
    """Upgrade: the old row is terminated now, a new row with the same external_id starts now."""
    subs, slots = world.subscriptions, 2 * cust
    old = world.slot["sub"][slots]
    world.terminate_subscriptions(old, at)
    world.slot["sub"][slots] = world.start_subscriptions(
        cust, new_plan, at, chain=subs["chain"][old], prev=old, trial=False
    )
    anchor_billing(world, slots, day, at, charges=False)
    issue_invoices(world, day, slots, at + US_PER_SECOND, g)


def plan_changes(world: World, day: int, t0: int, g: np.random.Generator) -> None:
    c, cat, subs, s = world.cust, world.catalog, world.subscriptions, world.slot
    paying = np.flatnonzero(c["state"] == PAYING)
    plan = subs["plan"][s["sub"][2 * paying]]
    tier = cat.tier[plan]
    use_ratio = c["tokens_ewma"][paying] * DAYS_PER_MONTH / np.maximum(cat.quota[plan], 1)
    draw = g.random(paying.size)
    no_pending = s["pending"][2 * paying] < 0
    up = (use_ratio > 1.15) & (tier < 3) & no_pending & (draw < UPGRADE_DAILY)
    if up.any():
        new_plan = cat.lookup(tier[up] + 1, cat.interval[plan[up]], cat.currency[plan[up]])
        _change_plan_now(world, paying[up], new_plan, day, _times(g, t0, int(up.sum())), g)
    down = (use_ratio < 0.08) & (tier > 1) & no_pending & ~up & (draw > 1 - DOWNGRADE_DAILY)
    if down.any():
        cust = paying[down]
        old = s["sub"][2 * cust]
        new_plan = cat.lookup(tier[down] - 1, cat.interval[plan[down]], cat.currency[plan[down]])
        at = _times(g, t0, cust.size)
        starts = world.slot["fee_day"][2 * cust] * US_PER_DAY + world.day_start(0) + 3600 * US_PER_SECOND
        s["pending"][2 * cust] = subs.insert(
            at,
            chain=subs["chain"][old],
            cust=cust,
            plan=new_plan,
            status=0,
            subscription_at=starts,
            started_at=NULL_TS,
            trial_ended_at=NULL_TS,
            ending_at=NULL_TS,
            terminated_at=NULL_TS,
            canceled_at=NULL_TS,
            prev=old,
            created_at=at,
        )
    # free users pressing their limits move to a paid plan (same external_id)
    free = np.flatnonzero(c["state"] == FREE)
    moves = free[(c["tokens_ewma"][free] * DAYS_PER_MONTH > 100_000) & (g.random(free.size) < FREE_UPGRADE_DAILY)]
    if moves.size:
        new_plan = cat.lookup(np.maximum(c["tier_pref"][moves], 1), np.full(moves.size, MONTHLY), c["currency"][moves])
        at = _times(g, t0, moves.size)
        old = s["sub"][2 * moves]
        world.terminate_subscriptions(old, at)
        s["sub"][2 * moves] = world.start_subscriptions(
            moves, new_plan, at, chain=subs["chain"][old], prev=old, trial=False
        )
        _become_paying(world, moves, day, at, g)


def second_chains(world: World, day: int, t0: int, g: np.random.Generator) -> None:
    """A few customers hold a second concurrent subscription (own external_id); cancelling it is contraction."""
    c, s, cat = world.cust, world.slot, world.catalog
    paying = np.flatnonzero(c["state"] == PAYING)
    has_second = s["sub"][2 * paying + 1] >= 0
    draw = g.random(paying.size)
    cancel = paying[has_second & (draw < SECOND_CHAIN_CANCEL_DAILY)]
    if cancel.size:
        slots = 2 * cancel + 1
        world.terminate_subscriptions(s["sub"][slots], _times(g, t0, cancel.size))
        s["sub"][slots], s["fee_day"][slots], s["charge_day"][slots] = -1, -1, -1
    add = paying[~has_second & (draw > 1 - SECOND_CHAIN_DAILY)]
    if add.size:
        slots, at = 2 * add + 1, _times(g, t0, add.size)
        plan = cat.lookup(np.ones(add.size, np.int64), np.full(add.size, MONTHLY), c["currency"][add])
        s["sub"][slots] = world.start_subscriptions(
            add, plan, at, chain=world.new_chains(add.size), prev=np.full(add.size, -1), trial=False
        )
        anchor_billing(world, slots, day, at, charges=True)
        issue_invoices(world, day, slots, at + US_PER_SECOND, g)


def end_customers(world: World, cust: np.ndarray, at: int | np.ndarray, day: int, state: int) -> None:
    """Terminate every live subscription of these customers and cancel their pending ones."""
    s, subs = world.slot, world.subscriptions
    at = np.broadcast_to(np.asarray(at, np.int64), cust.shape)
    for k in (0, 1):
        slots = 2 * cust + k
        live = s["sub"][slots] >= 0
        world.terminate_subscriptions(s["sub"][slots[live]], at[live])
        pending = s["pending"][slots] >= 0
        subs.update(s["pending"][slots[pending]], at[pending], status=3, canceled_at=at[pending])
        s["sub"][slots], s["pending"][slots], s["fee_day"][slots], s["charge_day"][slots] = -1, -1, -1, -1
    world.cust["state"][cust] = state
    world.cust["churn_day"][cust] = day


def churn_and_reactivate(world: World, day: int, t0: int, g: np.random.Generator) -> np.ndarray:
    c = world.cust
    paying = np.flatnonzero(c["state"] == PAYING)
    daily = 1.0 - (1.0 - monthly_hazard(world, day)[paying]) ** (1.0 / DAYS_PER_MONTH)
    leaving = paying[g.random(paying.size) < daily]
    if leaving.size:
        end_customers(world, leaving, _times(g, t0, leaving.size), day, CHURNED)
    free = np.flatnonzero(c["state"] == FREE)
    gone = free[g.random(free.size) < FREE_LEAVE_DAILY]
    if gone.size:
        end_customers(world, gone, _times(g, t0, gone.size), day, CHURNED)
    churned = np.flatnonzero(
        (c["state"] == CHURNED) & (c["churn_day"] < day - 14) & ~c["deleted"] & (c["paid_since_day"] >= 0)
    )
    back = churned[g.random(churned.size) < REACTIVATION_DAILY]
    if back.size:
        at = _times(g, t0, back.size)
        plan = world.catalog.lookup(c["tier_pref"][back], np.full(back.size, MONTHLY), c["currency"][back])
        world.slot["sub"][2 * back] = world.start_subscriptions(
            back, plan, at, chain=world.new_chains(back.size), prev=np.full(back.size, -1), trial=False
        )
        c["eng_mean"][back] = c["eng_base"][back]  # they came back for a reason: the disengagement is over
        c["eng"][back] = np.maximum(c["eng"][back], c["eng_mean"][back])
        _become_paying(world, back, day, at, g)
    return back


def run_lifecycle(world: World, day: int, t0: int) -> np.ndarray:
    g = rng(world.cfg.seed, day, Stream.LIFECYCLE)
    end_trials(world, day, t0, g)
    plan_changes(world, day, t0, g)
    second_chains(world, day, t0, g)
    return churn_and_reactivate(world, day, t0, g)
