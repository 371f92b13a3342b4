"""Keycloak: users per customer (join, get disabled on churn, a few hard-deleted) and login events."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from .clock import US_PER_DAY, US_PER_SECOND, Stream, rng
from .ids import random_uuids
from .world import ACTIVE_STATES, CHURNED, CHURNED_UNPAID, PAYING, World

HOUR_WEIGHTS = np.array([1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 9, 8, 9, 10, 10, 9, 7, 5, 4, 3, 2, 2, 1], float)
HOUR_WEIGHTS /= HOUR_WEIGHTS.sum()
HOUR_CDF = np.cumsum(HOUR_WEIGHTS)
CLIENT_ID = "saas-web"
LOGOUT_SHARE = 0.4


def run_identity(world: World, day: int, t0: int, reactivated: np.ndarray) -> None:
    g = rng(world.cfg.seed, day, Stream.IDENTITY)
    c, users = world.cust, world.users
    # colleagues join paying customers, up to about twice the seats
    n_users = np.bincount(users["cust"][~users["deleted"]], minlength=c.n)
    from .behaviour import customer_tier

    tier = customer_tier(world)
    joins = np.flatnonzero((c["state"] == PAYING) & (n_users < 2 * c["seats"]) & (g.random(c.n) < 0.004 * (1 + tier)))
    if joins.size:
        at = t0 + g.integers(8 * 3600, 19 * 3600, joins.size) * US_PER_SECOND
        users.insert(
            at,
            cust=joins,
            role=2,
            created_at=at,
            enabled=True,
            deleted=False,
            email_verified=g.random(joins.size) < 0.85,
        )
    owner = users["cust"]
    live = ~users["deleted"]
    # users of customers that churned today are disabled; returning customers' users are enabled again
    churned_today = np.isin(c["state"], (CHURNED, CHURNED_UNPAID)) & (c["churn_day"] == day)
    disable = np.flatnonzero(live & users["enabled"] & churned_today[owner])
    users.update(disable, t0 + 22 * 3600 * US_PER_SECOND, enabled=False)
    back = np.zeros(c.n, bool)
    back[reactivated] = True
    enable = np.flatnonzero(live & ~users["enabled"] & back[owner])
    users.update(enable, t0 + 22 * 3600 * US_PER_SECOND, enabled=True)
    # a few users vanish (hard delete): mostly disabled ones, rarely a member of a live customer
    p_delete = np.where(users["enabled"], np.where(users["role"] == 2, 0.0002, 0.0), 0.003)
    delete = np.flatnonzero(live & (g.random(users.n) < p_delete))
    delete = delete[~np.isin(delete, np.concatenate([disable, enable]))]
    users.update(delete, t0 + 23 * 3600 * US_PER_SECOND, deleted=True, enabled=False)
    # long-gone customers are soft-deleted in billing
    gone = np.flatnonzero(
        np.isin(c["state"], (CHURNED, CHURNED_UNPAID))
        & (c["churn_day"] < day - 45)
        & ~c["deleted"]
        & (g.random(c.n) < 0.004)
    )
    if gone.size:
        at = t0 + 23 * 3600 * US_PER_SECOND
        world.customers.update(c["row"][gone], at, deleted_at=at)
        c["deleted"][gone] = True
    assert not np.isin(c["state"][gone], ACTIVE_STATES).any()


def expand_events(world: World, day: int) -> dict[str, np.ndarray | pa.Array]:
    """Keycloak events of one day: REGISTER for new users, LOGIN/LOGOUT/LOGIN_ERROR from the daily counts."""
    g = rng(world.cfg.seed, day, Stream.EVENTS_EXPAND)
    t0 = int(world.day_start(day))
    users = world.users
    created = users["created_at"]
    registered = np.flatnonzero((created >= t0) & (created < t0 + US_PER_DAY))
    seen, logins, errors = world.login_counts.get(day, (np.zeros(0, np.int64),) * 3)
    login_user = np.repeat(seen, logins)
    error_user = np.repeat(seen, errors)

    def times(user: np.ndarray) -> np.ndarray:
        hour = np.minimum(np.searchsorted(HOUR_CDF, g.random(user.size), side="right"), 23)
        at = t0 + hour * 3600 * US_PER_SECOND + g.integers(0, 3600 * US_PER_SECOND, user.size)
        return np.maximum(at, created[user] + 60 * US_PER_SECOND)  # never before the user exists

    login_at = times(login_user)
    logout = g.random(login_user.size) < LOGOUT_SHARE
    logout_user = login_user[logout]
    logout_at = login_at[logout] + g.integers(5 * 60, 4 * 3600, logout_user.size) * US_PER_SECOND
    sessions = random_uuids(g, login_user.size)
    n_reg, n_login, n_err, n_out = registered.size, login_user.size, error_user.size, logout_user.size
    user = np.concatenate([registered, login_user, error_user, logout_user])
    kind = np.concatenate([np.full(n_reg, 0), np.full(n_login, 1), np.full(n_err, 2), np.full(n_out, 3)])
    at = np.concatenate([created[registered] + 2 * US_PER_SECOND, login_at, times(error_user), logout_at])
    session = pa.concat_arrays(
        [
            random_uuids(g, n_reg),
            sessions,
            pa.nulls(n_err, pa.string()),
            sessions.take(pa.array(np.flatnonzero(logout))),
        ]
    )
    return {"user": user, "kind": kind, "at_us": at, "session": session, "id": random_uuids(g, user.size)}


EVENT_TYPES = np.array(["REGISTER", "LOGIN", "LOGIN_ERROR", "LOGOUT"], dtype=object)
EVENT_ERRORS = np.array([None, None, "invalid_user_credentials", None], dtype=object)
EVENT_DETAILS = np.array(  # Keycloak writes DETAILS_JSON compact (Jackson), unlike jsonb's text output
    [
        json.dumps({"auth_method": "openid-connect", "register_method": "form"}, separators=(",", ":")),
        json.dumps(
            {"auth_method": "openid-connect", "redirect_uri": "https://app.example.com/"}, separators=(",", ":")
        ),
        json.dumps({"auth_method": "openid-connect"}, separators=(",", ":")),
        json.dumps({"redirect_uri": "https://app.example.com/"}, separators=(",", ":")),
    ],
    dtype=object,
)
