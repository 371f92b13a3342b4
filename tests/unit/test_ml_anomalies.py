"""Metric alerts: injected incidents are found, weekly seasonality is not an incident, YAML rules apply."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models_ml import anomalies
from models_ml.synthetic import daily_metrics_with_incidents


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_injected_incidents_recall_and_precision(seed):
    daily, incidents = daily_metrics_with_incidents(days=150, n_incidents=8, seed=seed)
    alerts = anomalies.detect(daily, anomalies.load_config().detector)
    scores = anomalies.evaluate_alerts(alerts, incidents, match_metric=True)
    assert scores["recall"] >= 0.8
    assert scores["precision"] >= 0.5
    assert list(alerts.columns) == anomalies.ALERT_COLUMNS


def _series(values, metric="requests", scope="chat", start="2025-01-06"):
    days = pd.date_range(start, periods=len(values), freq="D")
    return pd.DataFrame({"day": days, "metric": metric, "scope": scope, "value": values})


def test_weekend_dip_is_seasonality_not_an_incident():
    rng = np.random.default_rng(0)
    days = pd.date_range("2025-01-06", periods=84, freq="D")
    values = np.where(days.dayofweek >= 5, 2_000.0, 10_000.0) * rng.lognormal(0, 0.03, len(days))
    assert anomalies.detect(_series(values)).empty
    values[70] = 2_000.0  # a weekday that looks like a Sunday: requests collapsed
    alerts = anomalies.detect(_series(values))
    assert list(alerts["day"]) == [days[70]]
    row = alerts.iloc[0]
    assert row["severity"] == "critical" and row["value"] < row["expected_low"] < row["expected"] < row["expected_high"]
    assert "requests for chat" in row["message"]


def test_direction_and_warm_up():
    rng = np.random.default_rng(1)
    values = 0.01 + rng.normal(0, 0.001, 60)
    values[40], values[50] = 0.0, 0.2  # fewer errors is good news; a spike is not
    settings = anomalies.DetectorSettings(metrics={"error_rate": anomalies.MetricSettings(direction="up")})
    alerts = anomalies.detect(_series(values, metric="error_rate"), settings)
    assert list(alerts["day"]) == [pd.Timestamp("2025-01-06") + pd.Timedelta(days=50)]
    # the first three weeks have no same-weekday history: nothing is judged there
    early = values.copy()
    early[5], early[50] = 5.0, 0.01
    assert anomalies.detect(_series(early, metric="error_rate"), settings).empty


def test_since_limits_reported_days_and_duplicates_are_rejected():
    daily, incidents = daily_metrics_with_incidents(days=150, seed=0)
    since = incidents["day"].iloc[4]
    alerts = anomalies.detect(daily, since=since)
    assert (alerts["day"] >= since).all() and len(alerts) > 0
    with pytest.raises(ValueError, match="duplicate"):
        anomalies.detect(pd.concat([daily.head(3), daily.head(1)]))


def test_threshold_rules_from_the_default_yaml():
    config = anomalies.load_config()
    assert {r.name for r in config.rules} >= {"monthly_logo_churn_high", "nrr_below_100"}
    kpis = pd.DataFrame(
        {
            "day": pd.to_datetime(["2025-05-31", "2025-06-30", "2025-06-30", "2025-06-30"]),
            "metric": ["logo_churn_rate", "logo_churn_rate", "nrr_12m", "quick_ratio"],
            "scope": ["all", "all", "all", None],
            "value": [0.04, 0.062, 0.97, 2.5],
        }
    )
    alerts = anomalies.apply_rules(kpis, config.rules)
    assert sorted(alerts["source"]) == ["rule:monthly_logo_churn_high", "rule:nrr_below_100"]
    churn = alerts[alerts["metric"] == "logo_churn_rate"].iloc[0]
    assert churn["day"] == pd.Timestamp("2025-06-30") and churn["expected_high"] == 0.05
    assert churn["message"] == "Monthly logo churn 6.2% is above 5%"
    combined = anomalies.metric_alerts(_series(np.full(30, 100.0)), kpis, config)
    assert len(combined) == 2


def test_default_yaml_configures_the_fed_metrics():
    metrics = anomalies.load_config().detector.metrics
    latency = metrics["latency_p95_ms"]  # only slower is bad; a 5 % floor keeps daily p95 jitter quiet
    assert latency.direction == "up" and latency.min_relative_scale == pytest.approx(0.05)
    assert "mrr_change_usd" not in metrics  # no daily series feeds it


def test_config_errors_are_named(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {name: bad, metric: x, op: '!=', threshold: 1}\n")
    with pytest.raises(ValueError, match="'bad'"):
        anomalies.load_config(path)
    path.write_text("detector:\n  windows: 3\n")
    with pytest.raises(ValueError, match="windows"):
        anomalies.load_config(path)


def test_evaluate_alerts_known_answer():
    alerts = pd.DataFrame({"day": pd.to_datetime(["2025-01-02", "2025-01-05", "2025-01-09"]), "metric": "m"})
    incidents = pd.DataFrame({"day": pd.to_datetime(["2025-01-02", "2025-01-08", "2025-01-20"]), "metric": "m"})
    exact = anomalies.evaluate_alerts(alerts, incidents)
    assert exact["recall"] == pytest.approx(1 / 3) and exact["precision"] == pytest.approx(1 / 3)
    loose = anomalies.evaluate_alerts(alerts, incidents, tolerance_days=1)
    assert loose["recall"] == pytest.approx(2 / 3) and loose["precision"] == pytest.approx(2 / 3)
