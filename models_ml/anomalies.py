"""Metric alerts: a robust, weekday-aware detector for daily metrics plus threshold rules from YAML.

Detector, per (metric, scope) daily series, using only days before the one being judged:
  expected(d) = median of the same weekday over the previous `weeks` weeks          (weekly seasonality, level)
  scale(d)    = 1.4826 * median |value - expected| over the previous `scale_days` days (robust sigma, MAD)
  z(d)        = (value - expected) / max(scale, min_scale, min_relative_scale * |expected|)
A day alerts when z passes `warning_z` (or `critical_z`) in the metric's bad direction. Medians and MADs ignore
the spikes they are looking for, so one incident does not mask the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

MODEL_NAME = "robust_weekday_mad"
MODEL_VERSION = "anomalies-1"
DEFAULT_RULES_PATH = Path(__file__).with_name("alert_rules.yaml")
ALERT_COLUMNS = [
    "day",
    "metric",
    "scope",
    "value",
    "expected",
    "expected_low",
    "expected_high",
    "score",
    "severity",
    "source",
    "message",
    "model_version",
]
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class MetricSettings:
    direction: str = "both"  # up | down | both: which deviations are bad
    min_scale: float = 0.0  # absolute floor on the robust sigma (e.g. 0.002 for an error rate)
    min_relative_scale: float = 0.02  # floor as a share of the expected value
    min_value: float | None = None  # ignore days whose value and expectation are both below this (tiny counts)


@dataclass(frozen=True)
class DetectorSettings:
    weeks: int = 6
    min_weeks: int = 3
    scale_days: int = 42
    min_scale_days: int = 14
    warning_z: float = 4.0
    critical_z: float = 7.0
    metrics: Mapping[str, MetricSettings] = field(default_factory=dict)

    def for_metric(self, metric: str) -> MetricSettings:
        return self.metrics.get(metric, MetricSettings())


@dataclass(frozen=True)
class ThresholdRule:
    name: str
    metric: str
    op: str  # '>', '>=', '<', '<='
    threshold: float
    severity: str = "warning"
    message: str = "{metric} {value:.4g} {op} {threshold:.4g}"


@dataclass(frozen=True)
class AlertConfig:
    detector: DetectorSettings
    rules: tuple[ThresholdRule, ...]


def load_config(path: str | Path | None = None) -> AlertConfig:
    """Read detector settings and threshold rules from YAML (default: models_ml/alert_rules.yaml)."""
    path = Path(path) if path else DEFAULT_RULES_PATH
    raw = yaml.safe_load(path.read_text()) or {}
    detector_raw = dict(raw.get("detector") or {})
    metrics_raw = detector_raw.pop("metrics", None) or {}
    metrics = {name: MetricSettings(**(values or {})) for name, values in metrics_raw.items()}
    unknown = set(detector_raw) - set(DetectorSettings.__dataclass_fields__)
    if unknown:
        raise ValueError(f"{path}: unknown detector settings {sorted(unknown)}")
    rules = []
    for index, rule in enumerate(raw.get("rules") or []):
        missing = {"name", "metric", "op", "threshold"} - set(rule)
        if missing:
            raise ValueError(f"{path}: rule #{index + 1} lacks {sorted(missing)}")
        if rule["op"] not in _OPS:
            raise ValueError(f"{path}: rule {rule['name']!r} has op {rule['op']!r}; use one of {sorted(_OPS)}")
        rules.append(ThresholdRule(**rule))
    return AlertConfig(DetectorSettings(**detector_raw, metrics=metrics), tuple(rules))


_OPS = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
}


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks columns {missing}")


def detect(daily: pd.DataFrame, settings: DetectorSettings | None = None, since: object = None) -> pd.DataFrame:
    """Alerts for a long frame of daily metrics (day, metric, scope, value); `since` limits the days reported.

    Missing days inside a series are treated as missing (not zero). Returns ALERT_COLUMNS, source = 'detector'.
    """
    settings = settings or DetectorSettings()
    _require(daily, ["day", "metric", "scope", "value"], "daily metrics")
    frame = daily[["day", "metric", "scope", "value"]].copy()
    frame["day"] = pd.to_datetime(frame["day"]).dt.normalize()
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame["scope"] = frame["scope"].fillna("all")
    if frame.duplicated(["day", "metric", "scope"]).any():
        raise ValueError("daily metrics frame has duplicate (day, metric, scope) rows")
    scored = []
    for (metric, scope), series in frame.groupby(["metric", "scope"], sort=True):
        scored.append(
            _score_series(series.set_index("day")["value"], settings.for_metric(metric), settings).assign(
                metric=metric, scope=scope
            )
        )
    if not scored:
        return pd.DataFrame(columns=ALERT_COLUMNS)
    result = pd.concat(scored).reset_index()
    if since is not None:
        result = result[result["day"] >= pd.Timestamp(since)]
    alerts = result[result["severity"].notna()].copy()
    alerts["source"] = "detector"
    alerts["message"] = [
        f"{m} for {s} is {v:.4g}, expected {lo:.4g}..{hi:.4g} (z = {z:+.1f})"
        for m, s, v, lo, hi, z in zip(
            alerts["metric"],
            alerts["scope"],
            alerts["value"],
            alerts["expected_low"],
            alerts["expected_high"],
            alerts["score"],
            strict=True,
        )
    ]
    alerts["model_version"] = MODEL_VERSION
    return alerts[ALERT_COLUMNS].sort_values(["day", "metric", "scope"]).reset_index(drop=True)


def _score_series(values: pd.Series, metric: MetricSettings, settings: DetectorSettings) -> pd.DataFrame:
    full_days = pd.date_range(values.index.min(), values.index.max(), freq="D")
    values = values.reindex(full_days)
    frame = pd.DataFrame({"value": values})
    frame.index.name = "day"
    weekday = frame.index.dayofweek
    # same-weekday history: shift within each weekday group so day d sees only earlier weeks
    expected = frame.groupby(weekday)["value"].transform(
        lambda s: s.shift(1).rolling(settings.weeks, min_periods=settings.min_weeks).median()
    )
    residual = (frame["value"] - expected).abs()
    scale = _MAD_TO_SIGMA * residual.shift(1).rolling(settings.scale_days, min_periods=settings.min_scale_days).median()
    floor = np.maximum(metric.min_scale, metric.min_relative_scale * expected.abs())
    sigma = np.maximum(scale, floor)
    z = (frame["value"] - expected) / sigma.replace(0, np.nan)
    severity = pd.Series(None, index=frame.index, dtype=object)
    bad = _bad_direction(z, metric.direction)
    severity[bad >= settings.warning_z] = "warning"
    severity[bad >= settings.critical_z] = "critical"
    if metric.min_value is not None:
        severity[(frame["value"].abs() < metric.min_value) & (expected.abs() < metric.min_value)] = None
    frame["expected"] = expected
    frame["expected_low"] = expected - settings.warning_z * sigma
    frame["expected_high"] = expected + settings.warning_z * sigma
    frame["score"] = z
    frame["severity"] = severity.where(frame["value"].notna())
    return frame.dropna(subset=["value"])


def _bad_direction(z: pd.Series, direction: str) -> pd.Series:
    if direction == "up":
        return z
    if direction == "down":
        return -z
    if direction == "both":
        return z.abs()
    raise ValueError(f"direction must be up, down or both, got {direction!r}")


def apply_rules(kpis: pd.DataFrame, rules: Iterable[ThresholdRule]) -> pd.DataFrame:
    """Threshold-rule alerts for a long KPI frame (day, metric, scope, value); e.g. monthly churn > 5 %.

    `day` is the KPI's date (for monthly KPIs the month). expected_low/high show the allowed side of the threshold.
    """
    _require(kpis, ["day", "metric", "scope", "value"], "KPI")
    rows = []
    for rule in rules:
        subset = kpis[kpis["metric"] == rule.metric]
        values = pd.to_numeric(subset["value"], errors="coerce")
        hit = subset[_OPS[rule.op](values, rule.threshold).fillna(False).astype(bool)]
        for record in hit.itertuples(index=False):
            upper_bound = rule.op in (">", ">=")
            rows.append(
                {
                    "day": pd.Timestamp(record.day),
                    "metric": record.metric,
                    "scope": record.scope if pd.notna(record.scope) else "all",
                    "value": float(record.value),
                    "expected": np.nan,
                    "expected_low": np.nan if upper_bound else rule.threshold,
                    "expected_high": rule.threshold if upper_bound else np.nan,
                    "score": np.nan,
                    "severity": rule.severity,
                    "source": f"rule:{rule.name}",
                    "message": rule.message.format(
                        metric=record.metric,
                        value=float(record.value),
                        op=rule.op,
                        threshold=rule.threshold,
                        scope=record.scope,
                    ),
                    "model_version": MODEL_VERSION,
                }
            )
    return pd.DataFrame(rows, columns=ALERT_COLUMNS)


def metric_alerts(
    daily: pd.DataFrame, kpis: pd.DataFrame | None = None, config: AlertConfig | None = None, since: object = None
) -> pd.DataFrame:
    """ml.metric_alerts rows: detector alerts on the daily metrics plus rule alerts on the KPIs."""
    config = config or load_config()
    parts = [detect(daily, config.detector, since=since)]
    if kpis is not None and not kpis.empty:
        rule_alerts = apply_rules(kpis, config.rules)
        if since is not None:
            rule_alerts = rule_alerts[rule_alerts["day"] >= pd.Timestamp(since)]
        parts.append(rule_alerts)
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=ALERT_COLUMNS)
    return pd.concat(parts, ignore_index=True).sort_values(["day", "metric", "scope"]).reset_index(drop=True)


def evaluate_alerts(
    alerts: pd.DataFrame, incidents: pd.DataFrame, tolerance_days: int = 0, match_metric: bool = False
) -> dict[str, float]:
    """Recall and precision of alerts against known incident days (e.g. the simulator's injected incidents).

    incidents: a `day` column (and `metric` when match_metric). An incident is recalled when some alert falls
    within `tolerance_days` of it; an alert is a true positive when it falls within that window of some incident.
    """
    alert_days = pd.to_datetime(alerts["day"]).dt.normalize().to_numpy()
    incident_days = pd.to_datetime(incidents["day"]).dt.normalize().to_numpy()
    tolerance = np.timedelta64(tolerance_days, "D")

    def near(day, days, metric=None, metrics=None) -> bool:
        close = np.abs(days - day) <= tolerance
        if match_metric and metrics is not None:
            close &= metrics == metric
        return bool(close.any())

    alert_metrics = alerts["metric"].to_numpy() if match_metric else None
    incident_metrics = incidents["metric"].to_numpy() if match_metric else None
    recalled = [
        near(day, alert_days, incident_metrics[i] if match_metric else None, alert_metrics)
        for i, day in enumerate(incident_days)
    ]
    correct = [
        near(day, incident_days, alert_metrics[i] if match_metric else None, incident_metrics)
        for i, day in enumerate(alert_days)
    ]
    return {
        "incidents": len(incident_days),
        "alerts": len(alert_days),
        "recall": float(np.mean(recalled)) if recalled else float("nan"),
        "precision": float(np.mean(correct)) if correct else float("nan"),
    }
