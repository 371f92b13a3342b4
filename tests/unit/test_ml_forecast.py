"""Forecasts: candidate choice by rolling-origin backtest, MASE/sMAPE/Winkler known answers, calibrated intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models_ml import forecast
from models_ml.evaluation import naive_scale, smape, winkler
from models_ml.synthetic import monthly_series


def test_accuracy_measures_known_answers():
    assert naive_scale([1.0, 2.0, 4.0]) == pytest.approx(1.5)
    assert naive_scale([1.0, 2.0, 4.0, 8.0], season=2) == pytest.approx(4.5)
    np.testing.assert_allclose(smape(np.array([100.0, 0.0]), np.array([50.0, 0.0])), [200 * 50 / 150, 0.0])
    # width 10; a miss of 5 below at 80 % costs 2 / 0.2 * 5 = 50 more
    np.testing.assert_allclose(
        winkler(np.array([5.0, 15.0]), np.array([10.0, 10.0]), np.array([20.0, 20.0]), 80), [60.0, 10.0]
    )


def test_trending_series_beats_naive_by_the_bar_with_nominal_coverage():
    # MRR-like: trend plus accumulated random movements (coverage of one series varies with its seed: the
    # bench prints the mean over many series)
    series = monthly_series(n=60, seed=3, trend=2_000, noise=800, walk=1_500)
    # the full candidate set runs in bench/bench_ml.py; here the trend-capable ones keep the test quick
    result = forecast.forecast_with_backtest(series, horizon=12, models=("naive", "drift", "ets_aadn"))
    by_step = result.backtest_by_step
    chosen_at_3 = by_step[(by_step["model"] == result.chosen_model) & (by_step["step"] == 3)].iloc[0]
    assert chosen_at_3["mase_ratio_to_naive"] <= 0.8
    chosen = result.backtest.set_index("model").loc[result.chosen_model]
    assert 0.7 <= chosen["coverage_80"] <= 0.9
    assert chosen["coverage_95"] >= chosen["coverage_80"]
    assert chosen["mase"] == result.backtest["mase"].min()


def test_backtest_reports_every_candidate_on_the_same_origins():
    series = monthly_series(n=42, seed=2)
    table = forecast.backtest(series, horizon=3, n_origins=4)
    expected = {"naive", "drift", "seasonal_naive", "ets_ann", "ets_aan", "ets_aadn", "ets_aada"}
    assert set(table["model"]) == expected  # 42 - 3 - 4 + 1 = 36 training points at the first origin: all fit
    assert (table["n_origins"] == 4).all() and (table["n_forecasts"] == 12).all()
    for column in ("mase", "smape", "coverage_80", "coverage_95", "winkler_80", "winkler_95"):
        assert table[column].notna().all()
    assert table.set_index("model").loc["naive", "mase_ratio_to_naive"] == pytest.approx(1.0)
    by_step = forecast.backtest(series, horizon=3, n_origins=4, by_step=True, models=("naive", "drift"))
    assert len(by_step) == 2 * 3 and list(by_step["step"]) == [1, 2, 3, 1, 2, 3]


def test_seasonal_series_chooses_a_seasonal_model():
    series = monthly_series(n=48, seed=4, trend=0, season=20_000, noise=800)
    result = forecast.forecast_with_backtest(
        series, horizon=12, models=("naive", "drift", "seasonal_naive", "ets_aadn")
    )
    assert result.chosen_model == "seasonal_naive"
    assert result.backtest.set_index("model").loc["seasonal_naive", "mase_ratio_to_naive"] < 0.5


def test_forecast_frame_shape_and_ordering():
    series = monthly_series(n=15, seed=5)
    frame = forecast.forecast(series, horizon=12)
    assert list(frame.index) == list(pd.date_range("2023-04-01", periods=12, freq="MS"))
    assert list(frame["horizon"]) == list(range(1, 13))
    for column in ("mean", "lo_80", "hi_80", "lo_95", "hi_95", "model"):
        assert column in frame.columns
    assert (frame["lo_95"] <= frame["lo_80"]).all() and (frame["lo_80"] <= frame["mean"]).all()
    assert (frame["mean"] <= frame["hi_80"]).all() and (frame["hi_80"] <= frame["hi_95"]).all()
    # a straight line with a little noise continues as a straight line
    line = pd.Series(1_000.0 + 10.0 * np.arange(12), index=pd.period_range("2023-01", periods=12, freq="M"))
    ahead = forecast.forecast(line + np.random.default_rng(0).normal(0, 0.5, 12), horizon=3)
    np.testing.assert_allclose(ahead["mean"], [1_120, 1_130, 1_140], rtol=0.002)


def test_short_series_falls_back_to_drift_and_gaps_are_rejected():
    short = monthly_series(n=5, seed=0)
    frame = forecast.forecast(short, horizon=3)
    assert (frame["model"] == "drift").all()
    gappy = monthly_series(n=24).drop(index=monthly_series(n=24).index[[5, 6]])
    with pytest.raises(ValueError, match="gaps"):
        forecast.forecast(gappy, horizon=3)
    with pytest.raises(ValueError, match="missing values"):
        forecast.forecast(monthly_series(n=24).where(lambda s: s.index.month != 3), horizon=3)


def test_forecast_many_long_frames():
    forecasts, backtests = forecast.forecast_many(
        {"mrr": monthly_series(n=16, seed=1), "paying_customers": monthly_series(n=16, seed=2) / 100},
        horizon=6,
        n_origins=3,
    )
    assert len(forecasts) == 12 and set(forecasts["series"]) == {"mrr", "paying_customers"}
    assert forecasts.columns[0] == "series" and "month" in forecasts.columns
    assert backtests.groupby("series")["chosen"].sum().tolist() == [1, 1]
