"""sBG retention: the paper's worked examples, recovery of known parameters, DERL against brute force, LTV frame."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models_ml.retention import (
    SBGFit,
    backtest_sbg,
    fit_sbg,
    fit_sbg_cohorts,
    ltv_projection,
    monthly_rate,
    project_ltv,
    simple_ltv,
)
from models_ml.synthetic import sbg_cohort

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.mark.parametrize(
    ("survivors", "alpha", "beta", "log_likelihood"),
    [(REGULAR, 0.704, 1.182, -1680.3), (HIGH_END, 0.668, 3.806, -1611.2)],
)
def test_reproduces_fader_hardie_2007_worked_example(survivors, alpha, beta, log_likelihood):
    fit = fit_sbg(survivors)
    assert fit.alpha == pytest.approx(alpha, abs=0.001)
    assert fit.beta == pytest.approx(beta, abs=0.001)
    assert fit.log_likelihood == pytest.approx(log_likelihood, abs=0.1)
    assert fit.converged


def test_recovers_known_parameters_from_simulated_cohort():
    survivors = sbg_cohort(alpha=1.5, beta=4.0, size=200_000, periods=12, seed=7)
    fit = fit_sbg(survivors)
    assert fit.alpha == pytest.approx(1.5, rel=0.08)
    assert fit.beta == pytest.approx(4.0, rel=0.08)


def test_several_cohorts_of_different_lengths_share_one_fit():
    cohorts = [sbg_cohort(0.9, 2.5, 50_000, periods, seed=periods) for periods in (4, 8, 12)]
    fit = fit_sbg_cohorts(cohorts)
    assert fit.n_cohorts == 3 and fit.n_periods == 12
    assert fit.alpha == pytest.approx(0.9, rel=0.1)
    assert fit.beta == pytest.approx(2.5, rel=0.1)


def test_survival_retention_and_churn_probabilities_are_consistent():
    fit = SBGFit(alpha=0.7, beta=1.2, log_likelihood=0.0)
    t = np.arange(1, 30)
    assert fit.survival(0) == pytest.approx(1.0)
    assert fit.retention_rate(1) == pytest.approx(1.2 / 1.9)
    np.testing.assert_allclose(fit.survival(t), np.cumprod(fit.retention_rate(t)))
    np.testing.assert_allclose(fit.churn_probability(t), fit.survival(t - 1) - fit.survival(t))
    assert np.all(np.diff(fit.retention_rate(t)) > 0)  # heterogeneity: survivors are ever more loyal
    with pytest.raises(ValueError):
        fit.retention_rate(0)


@pytest.mark.parametrize("renewals", [0, 1, 5])
@pytest.mark.parametrize("discount", [0.01, 0.1])
def test_derl_matches_a_brute_force_discounted_sum(renewals, discount):
    fit = SBGFit(alpha=0.704, beta=1.182, log_likelihood=0.0)
    t = np.arange(renewals + 1, 5_000)
    brute = np.sum(fit.survival(t) / fit.survival(renewals) / (1 + discount) ** (t - renewals - 1))
    assert fit.derl(discount, renewals) == pytest.approx(brute, rel=1e-6)


def test_expected_lifetime():
    fit = SBGFit(alpha=3.0, beta=5.0, log_likelihood=0.0)
    assert fit.expected_lifetime() == pytest.approx(fit.survival(np.arange(0, 200_000)).sum(), rel=1e-6)
    assert SBGFit(alpha=0.7, beta=1.2, log_likelihood=0.0).expected_lifetime() == float("inf")
    assert fit.median_lifetime() == float(np.argmax(fit.survival(np.arange(100)) <= 0.5))


def test_rejects_bad_survivor_lists():
    for bad in ([1000], [0, 0], [100, 120], [100, -1], [100, float("nan")]):
        with pytest.raises(ValueError):
            fit_sbg(bad)


def test_ltv_helpers():
    fit = SBGFit(alpha=0.704, beta=1.182, log_likelihood=0.0)
    result = project_ltv(fit, arpa=100.0, gross_margin_pct=0.8, annual_discount_rate=0.10)
    assert monthly_rate(0.10) == pytest.approx(1.1 ** (1 / 12) - 1)
    assert result["derl"] == pytest.approx(fit.derl(monthly_rate(0.10)))
    assert result["projected_ltv"] == pytest.approx(100 * 0.8 * result["derl"])
    assert simple_ltv(100.0, 0.8, 0.04) == pytest.approx(2000.0)
    assert simple_ltv(100.0, 0.8, 0.0) is None


def test_backtest_on_sbg_data_has_small_error():
    cohorts = [sbg_cohort(1.2, 6.0, 20_000, 14, seed=s) for s in range(3)]
    result = backtest_sbg(cohorts, fit_periods=6)
    assert result.n_cohorts == 3 and result.n_points == 3 * 8  # periods 7..14 of each cohort
    assert result.mean_absolute_percentage_error < 0.05


def _cohort_frame(tier: str, alpha: float, beta: float, n_cohorts: int) -> list[dict]:
    rows = []
    for c in range(n_cohorts):
        survivors = sbg_cohort(alpha, beta, 5_000, periods=n_cohorts - c + 3, seed=c)
        rows += [
            {"tier": tier, "cohort_month": f"2024-{c + 1:02d}", "period": k, "customers": n}
            for k, n in enumerate(survivors)
        ]
    return rows


def test_ltv_projection_frame_per_tier():
    cohorts = pd.DataFrame(_cohort_frame("starter", 0.8, 2.0, 8) + _cohort_frame("scale", 2.0, 12.0, 8))
    economics = pd.DataFrame(
        {
            "tier": ["starter", "scale"],
            "arpa": [50.0, 800.0],
            "gross_margin_pct": [0.7, 0.8],
            "monthly_churn_rate": [0.2, None],
        }
    )
    frame = ltv_projection(cohorts, economics, annual_discount_rate=0.1)
    rows = frame.set_index("tier")
    assert set(rows.index) == {"starter", "scale"}
    assert rows.loc["scale", "alpha"] == pytest.approx(2.0, rel=0.25)
    assert pd.isna(rows.loc["starter", "expected_lifetime_months"])  # alpha < 1: infinite mean lifetime
    assert rows.loc["scale", "expected_lifetime_months"] == pytest.approx(
        (rows.loc["scale", "alpha"] + rows.loc["scale", "beta"] - 1) / (rows.loc["scale", "alpha"] - 1)
    )
    assert rows.loc["starter", "projected_ltv"] == pytest.approx(50 * 0.7 * rows.loc["starter", "derl_months"])
    assert rows.loc["starter", "simple_ltv"] == pytest.approx(50 * 0.7 / 0.2)
    assert pd.isna(rows.loc["scale", "simple_ltv"])
    assert rows.loc["starter", "backtest_mape"] < 0.1
    assert json.loads(rows.loc["scale", "projected_survival"])[0] == 1.0


def test_ltv_projection_rejects_cohort_gaps():
    cohorts = pd.DataFrame({"tier": "a", "cohort_month": "2024-01", "period": [0, 2], "customers": [10, 5]})
    with pytest.raises(ValueError, match="2024-01"):
        ltv_projection(cohorts, pd.DataFrame({"tier": ["a"], "arpa": [1.0], "gross_margin_pct": [1.0]}))


def test_near_flat_cohort_fit_stays_within_the_parameter_bounds():
    # almost nobody churns: the likelihood keeps improving as alpha, beta grow together; the fit must stop at the
    # bounds (an unbounded Nelder-Mead fallback once returned alpha ~ 5.6e14)
    fit = fit_sbg_cohorts([[10, 10, 10, 10, 10, 9, 9]])
    assert np.isfinite(fit.log_likelihood)
    assert np.exp(-9) <= fit.alpha <= np.exp(9) * 1.0001 and np.exp(-9) <= fit.beta <= np.exp(9) * 1.0001
    assert fit.alpha / (fit.alpha + fit.beta) < 0.1  # still a small churn probability
