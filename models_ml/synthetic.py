"""Synthetic inputs with known answers, for unit tests and benchmarks (never used on real data)."""

from __future__ import annotations

import numpy as np
import pandas as pd

TIERS = np.array(["starter", "growth", "scale", "enterprise"])
TIER_PRICES = np.array([49.0, 199.0, 799.0, 2999.0])
CHANNELS = np.array(["organic", "paid_search", "referral", "partner", "outbound"])


def customer_snapshots(n_customers: int = 2_000, n_snapshots: int = 24, seed: int = 0) -> pd.DataFrame:
    """A customer x month-end panel in the shape of marts.customer_features_monthly, with a true churn hazard.

    Churn depends on behaviour (engagement trend, errors, failed payments, tenure, quota fit) through a known
    logistic hazard (`true_hazard`); `churned_next_month` ~ Bernoulli(hazard). A churned customer leaves the panel
    and a new one replaces it, so the population stays about `n_customers`. Some features have missing values.
    """
    rng = np.random.default_rng(seed)
    months = pd.date_range("2024-01-31", periods=n_snapshots, freq="ME")
    next_id = 0

    def new_customers(n: int) -> dict[str, np.ndarray]:
        nonlocal next_id
        ids = np.arange(next_id, next_id + n)
        next_id += n
        tier = rng.choice(4, size=n, p=[0.45, 0.3, 0.18, 0.07])
        return {
            "id": ids,
            "tier": tier,
            "channel": rng.choice(len(CHANNELS), size=n),
            "engagement": rng.normal(0.0, 1.0, n),  # latent, drifts month to month
            "reliability": rng.normal(0.0, 1.0, n),
            "fit": rng.normal(0.0, 1.0, n),
            "tenure": np.zeros(n),
            "seats": rng.integers(1, 6, n) * (1 + 4 * tier),
        }

    population = new_customers(n_customers)
    frames = []
    for month in months:
        n = len(population["id"])
        population["engagement"] = 0.85 * population["engagement"] + rng.normal(0, 0.55, n)
        population["reliability"] = 0.7 * population["reliability"] + rng.normal(0, 0.7, n)
        tier = population["tier"]
        logins = rng.poisson(np.exp(2.5 + 0.6 * population["engagement"]) * np.sqrt(population["seats"]))
        logins_prev = rng.poisson(np.exp(2.5 + 0.6 * (population["engagement"] / 0.85)) * np.sqrt(population["seats"]))
        error_rate = 1 / (1 + np.exp(3.5 + 0.9 * population["reliability"]))
        failed_payments = rng.poisson(np.where(tier == 0, 0.25, 0.1) * np.exp(-0.5 * population["fit"]))
        quota_use = np.exp(0.25 * population["engagement"] + 0.5 * population["fit"] + rng.normal(-0.3, 0.25, n))
        tickets = rng.poisson(0.5 + 3 * error_rate)
        mrr = TIER_PRICES[tier] * (1 + 0.1 * (population["seats"] - 1))
        logit = (
            -2.9
            - 1.4 * population["engagement"]
            + 20.0 * (error_rate - 0.05)
            + 0.9 * failed_payments
            - 0.4 * np.log1p(population["tenure"])
            + 1.0 * (quota_use < 0.3)
            - 0.3 * tier
            + 0.3 * (population["channel"] == 1)
        )
        hazard = 1 / (1 + np.exp(-logit))
        churned = rng.random(n) < hazard
        frame = pd.DataFrame(
            {
                "customer_external_id": [f"cus_{i:06d}" for i in population["id"]],
                "snapshot_month": month,
                "plan_tier": TIERS[tier],
                "signup_channel": CHANNELS[population["channel"]],
                "tenure_months": population["tenure"].copy(),
                "seats": population["seats"].astype(float),
                "mrr": mrr,
                "logins_30d": logins.astype(float),
                "logins_change_pct": (logins - logins_prev) / np.maximum(logins_prev, 1),
                "error_rate_30d": error_rate + rng.normal(0, 0.005, n),
                "failed_payments_90d": failed_payments.astype(float),
                "quota_use": quota_use,
                "support_tickets_30d": tickets.astype(float),
                "true_hazard": hazard,
                "churned_next_month": churned.astype(int),
            }
        )
        # realistic gaps: usage metrics missing for some customers, channel unknown for a few
        frame.loc[rng.random(n) < 0.05, "quota_use"] = np.nan
        frame.loc[rng.random(n) < 0.03, "error_rate_30d"] = np.nan
        frame.loc[rng.random(n) < 0.02, "signup_channel"] = None
        frames.append(frame)
        keep = ~churned
        population = {k: v[keep] for k, v in population.items()}
        population["tenure"] = population["tenure"] + 1
        arrivals = new_customers(int(churned.sum()))
        population = {k: np.concatenate([population[k], arrivals[k]]) for k in population}
    return pd.concat(frames, ignore_index=True)


def sbg_cohort(alpha: float, beta: float, size: int, periods: int, seed: int = 0) -> list[float]:
    """Survivors at periods 0..periods of a cohort whose churn probabilities are Beta(alpha, beta) distributed."""
    rng = np.random.default_rng(seed)
    theta = rng.beta(alpha, beta, size)
    lifetimes = rng.geometric(theta)  # T >= 1: the period in which each customer churns
    return [float((lifetimes > t).sum()) for t in range(periods + 1)]


def monthly_series(
    n: int = 48,
    seed: int = 0,
    trend: float = 2_000.0,
    season: float = 0.0,
    noise: float = 1_500.0,
    walk: float = 0.0,
) -> pd.Series:
    """A month-end series: level 100k, linear trend, optional yearly seasonality (amplitude), Gaussian noise, and
    an optional random-walk component (std of its monthly steps), as MRR accumulates its movements."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 100_000 + trend * t + season * np.sin(2 * np.pi * t / 12) + rng.normal(0, noise, n)
    values = values + np.cumsum(rng.normal(0, walk, n)) if walk else values
    return pd.Series(values, index=pd.date_range("2022-01-31", periods=n, freq="ME"), name="mrr")


def daily_metrics_with_incidents(days: int = 180, n_incidents: int = 8, seed: int = 0):
    """Daily metrics with weekly seasonality, trend and noise, plus injected incidents.

    Returns (daily frame: day, metric, scope, value; incidents frame: day, metric, scope). Incidents are an
    error-rate spike, a cost spike, a request drop or a failed-payments burst, at least 35 days into the data.
    """
    rng = np.random.default_rng(seed)
    day_index = pd.date_range("2025-01-01", periods=days, freq="D")
    t = np.arange(days)
    weekly = np.where(day_index.dayofweek >= 5, 0.55, 1.0)
    base = {
        ("requests", "chat"): 20_000 * (1 + 0.002 * t) * weekly * rng.lognormal(0, 0.05, days),
        ("usage_cost_usd", "chat"): 400 * (1 + 0.002 * t) * weekly * rng.lognormal(0, 0.06, days),
        ("error_rate", "chat"): np.clip(0.01 + rng.normal(0, 0.0015, days), 0, 1),
        ("signups", "all"): rng.poisson(30 * weekly).astype(float),
        ("failed_payments", "all"): rng.poisson(4, days).astype(float),
    }
    kinds = [
        ("error_rate", "chat", 0.06),
        ("usage_cost_usd", "chat", 2.5),
        ("requests", "chat", 0.3),
        ("failed_payments", "all", 25.0),
    ]
    incident_days = np.sort(rng.choice(np.arange(35, days), size=n_incidents, replace=False))
    incidents = []
    for i, day in enumerate(incident_days):
        metric, scope, effect = kinds[i % len(kinds)]
        series = base[(metric, scope)]
        if metric in ("error_rate", "failed_payments"):
            series[day] += effect
        else:
            series[day] *= effect
        incidents.append({"day": day_index[day], "metric": metric, "scope": scope})
    daily = pd.concat(
        [pd.DataFrame({"day": day_index, "metric": m, "scope": s, "value": v}) for (m, s), v in base.items()],
        ignore_index=True,
    )
    return daily, pd.DataFrame(incidents)
