"""Metrics shared by the models: classifier quality (calibration, lift, capture) and forecast accuracy.

All functions take plain arrays, so they can score any model (and the simulator's oracle) the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

_EPS = 1e-12


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)


def classification_metrics(y_true: Sequence[int], proba: Sequence[float], base_rate: float) -> dict[str, float]:
    """ROC-AUC, PR-AUC, Brier and log loss, each beside the constant base-rate baseline.

    `base_rate` is the churn rate the model knew at training time (never the holdout's own rate).
    """
    y = np.asarray(y_true, dtype=int)
    p = _clip(proba)
    constant = np.full_like(p, float(np.clip(base_rate, 1e-6, 1 - 1e-6)))
    both_classes = len(np.unique(y)) == 2
    brier = float(brier_score_loss(y, p))
    brier_base = float(brier_score_loss(y, constant))
    return {
        "n": len(y),
        "positives": int(y.sum()),
        "observed_rate": float(y.mean()) if len(y) else float("nan"),
        "base_rate": float(base_rate),
        "roc_auc": float(roc_auc_score(y, p)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both_classes else float("nan"),
        "pr_auc_baseline": float(y.mean()) if len(y) else float("nan"),
        "brier": brier,
        "brier_baseline": brier_base,
        "brier_skill": 1.0 - brier / brier_base if brier_base > 0 else float("nan"),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "log_loss_baseline": float(log_loss(y, constant, labels=[0, 1])),
    }


def calibration_table(y_true: Sequence[int], proba: Sequence[float], n_bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed churn per quantile bin of the predicted probability (bin 1 = lowest risk)."""
    frame = pd.DataFrame({"y": np.asarray(y_true, dtype=int), "p": np.asarray(proba, dtype=float)})
    ranks = frame["p"].rank(method="first")
    frame["bin"] = pd.qcut(ranks, q=min(n_bins, len(frame)), labels=False) + 1
    table = frame.groupby("bin").agg(
        n=("y", "size"),
        mean_predicted=("p", "mean"),
        observed_rate=("y", "mean"),
        min_p=("p", "min"),
        max_p=("p", "max"),
    )
    return table.reset_index()


def lift_and_capture(
    y_true: Sequence[int], proba: Sequence[float], weight: Sequence[float] | None = None, top_fraction: float = 0.1
) -> dict[str, float]:
    """Lift and capture of the riskiest `top_fraction` of rows; with `weight` (e.g. MRR) also weighted capture.

    Lift = churn rate in the top slice / overall churn rate. Capture = share of all churners in the top slice.
    Weighted capture = share of churned weight (MRR lost) that sits in the top slice.
    """
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(proba, dtype=float)
    n_top = max(1, round(len(y) * top_fraction))
    top = np.argsort(-p, kind="stable")[:n_top]
    overall = y.mean()
    result = {
        "top_fraction": top_fraction,
        "lift": float(y[top].mean() / overall) if overall > 0 else float("nan"),
        "capture": float(y[top].sum() / y.sum()) if y.sum() > 0 else float("nan"),
    }
    if weight is not None:
        w = np.nan_to_num(np.asarray(weight, dtype=float))
        lost = (w * y).sum()
        result["weighted_capture"] = float((w[top] * y[top]).sum() / lost) if lost > 0 else float("nan")
    return result


# --- forecast accuracy ---------------------------------------------------------------------------------------------


def naive_scale(history: Sequence[float], season: int = 1) -> float:
    """In-sample mean absolute error of the (seasonal) naive one-step forecast: the MASE denominator."""
    values = np.asarray(history, dtype=float)
    if len(values) <= season:
        return float("nan")
    return float(np.mean(np.abs(values[season:] - values[:-season])))


def smape(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Symmetric absolute percentage error per point, in percent (0..200); 0 when both are 0."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    denominator = np.abs(actual) + np.abs(predicted)
    return np.where(denominator > 0, 200.0 * np.abs(actual - predicted) / np.maximum(denominator, _EPS), 0.0)


def winkler(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float) -> np.ndarray:
    """Winkler interval score per point (width plus 2/alpha times the miss), `level` in percent."""
    alpha = 1.0 - level / 100.0
    actual, lower, upper = (np.asarray(a, dtype=float) for a in (actual, lower, upper))
    below = np.where(actual < lower, lower - actual, 0.0)
    above = np.where(actual > upper, actual - upper, 0.0)
    return (upper - lower) + 2.0 / alpha * (below + above)
