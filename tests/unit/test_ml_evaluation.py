"""Classifier metrics shared by the churn model: known answers."""

from __future__ import annotations

import numpy as np
import pytest

from models_ml.evaluation import calibration_table, classification_metrics, lift_and_capture


def test_lift_capture_and_weighted_capture_known_answer():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1] * 2)  # 6 churners in 20 rows
    p = np.array([0.9, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2] * 2)
    w = np.array([100, 10, 1, 1, 1, 1, 1, 1, 1, 1000] * 2, dtype=float)
    result = lift_and_capture(y, p, w, top_fraction=0.1)  # top 2 rows: the two 0.9s, both churners
    assert result["lift"] == pytest.approx(1.0 / 0.3)
    assert result["capture"] == pytest.approx(2 / 6)
    assert result["weighted_capture"] == pytest.approx(200 / 2220)


def test_classification_metrics_against_the_base_rate():
    y = np.array([0, 0, 0, 1] * 25)
    perfect = classification_metrics(y, y * 0.98 + 0.01, base_rate=0.25)
    assert perfect["roc_auc"] == 1.0 and perfect["pr_auc"] == pytest.approx(1.0)
    assert perfect["brier_baseline"] == pytest.approx(0.1875)
    assert perfect["brier_skill"] > 0.99
    constant = classification_metrics(y, np.full(100, 0.25), base_rate=0.25)
    assert constant["brier_skill"] == pytest.approx(0.0) and constant["log_loss"] == pytest.approx(
        constant["log_loss_baseline"]
    )


def test_calibration_table_bins():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 20_000)
    y = (rng.uniform(0, 1, 20_000) < p).astype(int)
    table = calibration_table(y, p, n_bins=10)
    assert len(table) == 10 and table["n"].sum() == 20_000
    np.testing.assert_allclose(table["observed_rate"], table["mean_predicted"], atol=0.03)
