"""Shifted-beta-geometric (sBG) retention model and projected LTV.

Fader & Hardie (2007), "How to Project Customer Retention", J. Interactive Marketing 21(1): each customer churns
at the end of a period with a constant probability theta, and theta varies across customers as Beta(alpha, beta).
  P(T = 1) = alpha / (alpha + beta),   P(T = t) = (beta + t - 2) / (alpha + beta + t - 1) * P(T = t - 1)
  S(t) = S(t - 1) * (beta + t - 1) / (alpha + beta + t - 1),   r(t) = S(t) / S(t - 1)
Fader & Hardie (2010), "Customer-Base Valuation in a Contractual Setting: The Perils of Ignoring Heterogeneity",
Marketing Science 29(1): discounted expected residual lifetime of a customer who has made n renewals,
  DERL(d | alpha, beta, n) = (beta + n) / (alpha + beta + n) * 2F1(1, beta + n + 1; alpha + beta + n + 1; 1 / (1 + d))
i.e. the sum over future periods t > n of S(t) / S(n) / (1 + d)^(t - n - 1).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

MODEL_NAME = "sbg"
MODEL_VERSION = "sbg-1"


@dataclass(frozen=True)
class SBGFit:
    """A fitted sBG model. Periods are the cohort's periods (months for monthly cohorts)."""

    alpha: float
    beta: float
    log_likelihood: float
    n_cohorts: int = 1
    n_periods: int = 0
    model_name: str = MODEL_NAME
    version: str = MODEL_VERSION
    converged: bool = True

    def survival(self, t: int | Sequence[int] | np.ndarray) -> np.ndarray | float:
        """S(t) = P(T > t): share of a starting cohort still alive after t periods (S(0) = 1)."""
        t_arr = np.asarray(t, dtype=float)
        # S(t) = B(alpha, beta + t) / B(alpha, beta), computed in log space for stability
        values = np.exp(special.betaln(self.alpha, self.beta + t_arr) - special.betaln(self.alpha, self.beta))
        return float(values) if values.ndim == 0 else values

    def retention_rate(self, t: int | Sequence[int] | np.ndarray) -> np.ndarray | float:
        """r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1), for t >= 1."""
        t_arr = np.asarray(t, dtype=float)
        if np.any(t_arr < 1):
            raise ValueError("retention_rate is defined for periods t >= 1")
        values = (self.beta + t_arr - 1) / (self.alpha + self.beta + t_arr - 1)
        return float(values) if values.ndim == 0 else values

    def churn_probability(self, t: int | Sequence[int] | np.ndarray) -> np.ndarray | float:
        """P(T = t): probability that a new customer's last period is t (t >= 1)."""
        t_arr = np.asarray(t, dtype=float)
        values = np.exp(special.betaln(self.alpha + 1, self.beta + t_arr - 1) - special.betaln(self.alpha, self.beta))
        return float(values) if values.ndim == 0 else values

    def derl(self, discount_rate: float, renewals: int = 0) -> float:
        """Discounted expected residual lifetime (in periods) of a customer who has made `renewals` renewals.

        `discount_rate` is per period (for monthly cohorts convert an annual rate with `monthly_rate`).
        """
        if discount_rate <= -1:
            raise ValueError("discount_rate must be > -1")
        n = renewals
        a, b = self.alpha, self.beta
        return float((b + n) / (a + b + n) * special.hyp2f1(1.0, b + n + 1, a + b + n + 1, 1.0 / (1.0 + discount_rate)))

    def expected_lifetime(self) -> float:
        """E[T] in periods, counting the first period: (alpha + beta - 1) / (alpha - 1); infinite when alpha <= 1."""
        return (self.alpha + self.beta - 1) / (self.alpha - 1) if self.alpha > 1 else float("inf")

    def median_lifetime(self, max_periods: int = 10_000) -> float:
        """Smallest t with S(t) <= 0.5 (always finite for a proper fit)."""
        t = np.arange(0, max_periods + 1)
        below = np.nonzero(self.survival(t) <= 0.5)[0]
        return float(t[below[0]]) if len(below) else float("inf")


def monthly_rate(annual_rate: float) -> float:
    """Equivalent monthly discount rate of an annual rate."""
    return (1.0 + annual_rate) ** (1.0 / 12.0) - 1.0


def _validated(survivors: Sequence[float]) -> np.ndarray:
    values = np.asarray(survivors, dtype=float)
    if values.ndim != 1 or len(values) < 2:
        raise ValueError("survivors must list at least periods 0 and 1")
    if np.any(~np.isfinite(values)) or np.any(values < 0):
        raise ValueError("survivors must be finite and non-negative")
    if values[0] <= 0:
        raise ValueError("survivors[0] (cohort size) must be positive")
    if np.any(np.diff(values) > 1e-9 * values[0]):
        raise ValueError("survivors must not increase from one period to the next")
    return values


LOG_PARAM_BOUNDS = [(-9.0, 9.0), (-9.0, 9.0)]  # log alpha, log beta: e^9 ~ 8,100 is already near-geometric


def _negative_log_likelihood(log_params: np.ndarray, cohorts: list[np.ndarray]) -> float:
    alpha, beta = np.exp(log_params)
    total = 0.0
    lbeta0 = special.betaln(alpha, beta)
    for survivors in cohorts:
        n = len(survivors) - 1
        t = np.arange(1, n + 1)
        lost = survivors[:-1] - survivors[1:]
        log_p = special.betaln(alpha + 1, beta + t - 1) - lbeta0
        log_s_last = special.betaln(alpha, beta + n) - lbeta0
        total += float(np.dot(lost, log_p) + survivors[-1] * log_s_last)
    return -total


def fit_sbg_cohorts(cohorts: Sequence[Sequence[float]]) -> SBGFit:
    """Maximum-likelihood sBG fit over several cohorts, each right-censored at its own last observed period."""
    arrays = [_validated(c) for c in cohorts]
    if not arrays:
        raise ValueError("no cohorts to fit")
    start = np.log([1.0, 1.0])
    result = optimize.minimize(
        _negative_log_likelihood, start, args=(arrays,), method="L-BFGS-B", bounds=LOG_PARAM_BOUNDS
    )
    if not result.success:  # Nelder-Mead is slower but does not need gradients that may blow up at the bounds
        # the same bounds: on near-flat cohorts the likelihood keeps improving as alpha, beta -> infinity together
        fallback = optimize.minimize(
            _negative_log_likelihood, result.x, args=(arrays,), method="Nelder-Mead", bounds=LOG_PARAM_BOUNDS
        )
        if fallback.success or fallback.fun <= result.fun:
            result = fallback
    alpha, beta = np.exp(result.x)
    return SBGFit(
        alpha=float(alpha),
        beta=float(beta),
        log_likelihood=-float(result.fun),
        n_cohorts=len(arrays),
        n_periods=max(len(a) - 1 for a in arrays),
        converged=bool(result.success),
    )


def fit_sbg(survivors: Sequence[float]) -> SBGFit:
    """Fit sBG to the survivors at periods 0..n of one cohort (or an aggregate of cohorts aligned at period 0)."""
    return fit_sbg_cohorts([survivors])


# --- projection, LTV and backtest over a cohort-survival frame ----------------------------------------------------


def cohort_survivors(
    frame: pd.DataFrame, cohort_column: str, period_column: str, count_column: str
) -> list[list[float]]:
    """Turn a long cohort frame (cohort, period k, customers alive at k) into one survivor list per cohort.

    Each cohort must start at period 0 and have consecutive periods; a gap is an error naming the cohort.
    """
    cohorts = []
    for cohort, rows in frame.sort_values([cohort_column, period_column]).groupby(cohort_column, sort=True):
        periods = rows[period_column].to_numpy()
        if periods[0] != 0 or np.any(np.diff(periods) != 1):
            raise ValueError(f"cohort {cohort!r}: periods must run 0, 1, 2, ... without gaps (got {list(periods)})")
        cohorts.append(rows[count_column].astype(float).tolist())
    return cohorts


@dataclass(frozen=True)
class CohortBacktest:
    """Fit each cohort's first `fit_periods` periods, score the projection of its later realised periods."""

    fit_periods: int
    mean_absolute_error: float  # of projected vs realised survival share, averaged over all scored points
    mean_absolute_percentage_error: float
    n_cohorts: int
    n_points: int
    details: pd.DataFrame = field(repr=False)


def backtest_sbg(cohorts: Sequence[Sequence[float]], fit_periods: int = 6) -> CohortBacktest:
    """Per cohort observed beyond `fit_periods`: fit sBG on periods 0..fit_periods, project the later ones."""
    rows = []
    for index, survivors in enumerate(cohorts):
        values = _validated(survivors)
        if len(values) <= fit_periods + 1:
            continue
        fit = fit_sbg(values[: fit_periods + 1])
        later = np.arange(fit_periods + 1, len(values))
        actual = values[later] / values[0]
        projected = fit.survival(later)
        for t, a, p in zip(later, actual, projected, strict=True):
            rows.append({"cohort_index": index, "period": int(t), "actual_survival": a, "projected_survival": p})
    details = pd.DataFrame(rows, columns=["cohort_index", "period", "actual_survival", "projected_survival"])
    if details.empty:
        return CohortBacktest(fit_periods, float("nan"), float("nan"), 0, 0, details)
    error = (details["projected_survival"] - details["actual_survival"]).abs()
    nonzero = details["actual_survival"] > 0
    return CohortBacktest(
        fit_periods=fit_periods,
        mean_absolute_error=float(error.mean()),
        mean_absolute_percentage_error=float((error[nonzero] / details.loc[nonzero, "actual_survival"]).mean()),
        n_cohorts=int(details["cohort_index"].nunique()),
        n_points=len(details),
        details=details,
    )


def project_ltv(fit: SBGFit, arpa: float, gross_margin_pct: float, annual_discount_rate: float = 0.10) -> dict:
    """Projected LTV = ARPA x gross margin % x DERL (monthly periods, annual rate converted to monthly).

    `gross_margin_pct` is a fraction (0.8 for 80 %). DERL is for a customer who has just started (0 renewals), so
    it counts the expected discounted months after the current one.
    """
    derl = fit.derl(monthly_rate(annual_discount_rate), renewals=0)
    return {"derl": derl, "projected_ltv": arpa * gross_margin_pct * derl}


def simple_ltv(arpa: float, gross_margin_pct: float, monthly_churn_rate: float | None) -> float | None:
    """Simple LTV = ARPA x gross margin % / monthly logo churn; None when churn is 0 or unknown (METRICS.md)."""
    if monthly_churn_rate is None or not np.isfinite(monthly_churn_rate) or monthly_churn_rate <= 0:
        return None
    return arpa * gross_margin_pct / monthly_churn_rate


LTV_PROJECTION_COLUMNS = [
    "tier",
    "alpha",
    "beta",
    "expected_lifetime_months",
    "median_lifetime_months",
    "derl_months",
    "discount_rate_annual",
    "arpa",
    "gross_margin_pct",
    "projected_ltv",
    "simple_ltv",
    "backtest_mape",
    "backtest_mae",
    "n_cohorts",
    "n_customers",
    "projected_survival",
    "model_name",
    "model_version",
]


def ltv_projection(
    cohorts: pd.DataFrame,
    tier_economics: pd.DataFrame,
    annual_discount_rate: float = 0.10,
    backtest_fit_periods: int = 6,
    projection_months: int = 36,
) -> pd.DataFrame:
    """One ml.ltv_projection row per tier.

    cohorts: tier, cohort_month, period (0, 1, ...), customers (alive at period k, logo retention numerator).
    tier_economics: tier, arpa, gross_margin_pct (fraction), monthly_churn_rate (for the simple LTV; may be null).
    Expected lifetime is null when alpha <= 1 (the undiscounted mean lifetime is then infinite).
    """
    required = {"tier", "cohort_month", "period", "customers"}
    missing = required - set(cohorts.columns)
    if missing:
        raise ValueError(f"cohorts frame lacks columns {sorted(missing)}")
    economics = tier_economics.set_index("tier")
    rows = []
    for tier, tier_rows in cohorts.groupby("tier", sort=True):
        survivors = [c for c in cohort_survivors(tier_rows, "cohort_month", "period", "customers") if len(c) >= 2]
        survivors = [c for c in survivors if c[0] > 0]
        if not survivors:
            continue
        fit = fit_sbg_cohorts(survivors)
        backtest = backtest_sbg(survivors, fit_periods=backtest_fit_periods)
        econ: Mapping = economics.loc[tier] if tier in economics.index else {}
        arpa = float(econ.get("arpa", np.nan))
        margin = float(econ.get("gross_margin_pct", np.nan))
        projected = project_ltv(fit, arpa, margin, annual_discount_rate)
        churn = econ.get("monthly_churn_rate")
        expected = fit.expected_lifetime()
        rows.append(
            {
                "tier": tier,
                "alpha": fit.alpha,
                "beta": fit.beta,
                "expected_lifetime_months": expected if np.isfinite(expected) else None,
                "median_lifetime_months": fit.median_lifetime(),
                "derl_months": projected["derl"],
                "discount_rate_annual": annual_discount_rate,
                "arpa": arpa,
                "gross_margin_pct": margin,
                "projected_ltv": projected["projected_ltv"],
                "simple_ltv": simple_ltv(arpa, margin, None if churn is None or pd.isna(churn) else float(churn)),
                "backtest_mape": backtest.mean_absolute_percentage_error,
                "backtest_mae": backtest.mean_absolute_error,
                "n_cohorts": fit.n_cohorts,
                "n_customers": float(sum(c[0] for c in survivors)),
                "projected_survival": json.dumps(
                    [round(float(s), 6) for s in fit.survival(np.arange(projection_months + 1))]
                ),
                "model_name": fit.model_name,
                "model_version": fit.version,
            }
        )
    return pd.DataFrame(rows, columns=LTV_PROJECTION_COLUMNS)
