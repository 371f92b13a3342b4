"""Churn model: temporal split, logistic-regression baseline vs gradient boosting, calibrated probabilities.

Works on any customer table: numeric and categorical columns with missing values. Rows are split by time
(earlier snapshots train, later ones validate, the latest are the holdout), never randomly across snapshots:

    periods:  [ train ............ ][ validation ][ holdout ]
    train      both candidate pipelines (preprocessing inside one scikit-learn Pipeline each)
    validation choose the candidate on PR-AUC (one-standard-error rule: the simpler candidate unless the other is
               better by more than the bootstrap standard error of the difference); fit the probability
               calibration; set the risk-band thresholds
    holdout    every reported metric (untouched by any choice)

The parts are whole periods sized by churners (the latest periods holding ~25 % of the churners are the holdout,
~20 % of the rest before them validate): a growing customer base puts most rows, and churners, in the latest
periods, and every part needs churners to be measured or calibrated on.

With `refit=True` (default) the chosen recipe is then re-trained with the split moved forward (train on everything
but the latest validation-sized window, calibrate on that window) so the deployed model sees the newest data; the
reported metrics remain those of the holdout evaluation of the same recipe.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from models_ml.evaluation import calibration_table, classification_metrics, lift_and_capture

MODEL_NAME = "churn"
BOOTSTRAP_RESAMPLES = 200  # of the validation rows, for the standard error of a PR-AUC difference
MAX_CATEGORIES = 200  # a text column with more distinct values is treated as an identifier, not a feature
RISK_BAND_SHARES = {"high": 0.10, "medium": 0.20}  # of the validation snapshot, riskiest first
PREDICTION_COLUMNS = [
    "customer_external_id",
    "snapshot_month",
    "churn_probability",
    "risk_band",
    "mrr",
    "mrr_at_risk",
    "top_drivers",
    "model_version",
]


# --- feature typing and pipelines ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureSpec:
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    dropped: dict[str, str]  # column -> why it is not a feature

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def infer_features(frame: pd.DataFrame, not_features: Sequence[str]) -> FeatureSpec:
    """Numeric (incl. bool) and categorical (string/category) columns; identifiers and timestamps are dropped."""
    numeric, categorical, dropped = [], [], {}
    for column in frame.columns:
        if column in not_features:
            continue
        series = frame[column]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            if series.notna().sum() == 0:
                dropped[column] = "all values missing"
            else:
                numeric.append(column)
        elif pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
            dropped[column] = "timestamp (derive a numeric age/recency feature instead)"
        elif _is_numeric_text(series):  # e.g. Decimal values from a Postgres NUMERIC column
            numeric.append(column)
        else:
            distinct = series.nunique(dropna=True)
            if distinct == 0:
                dropped[column] = "all values missing"
            elif distinct > MAX_CATEGORIES:
                dropped[column] = f"identifier-like or too many levels ({distinct} distinct values)"
            else:
                categorical.append(column)
    if not numeric and not categorical:
        raise ValueError("no usable feature columns (need numeric or categorical columns besides label/time/excluded)")
    return FeatureSpec(tuple(numeric), tuple(categorical), dropped)


def _without_columns_missing_in(spec: FeatureSpec, frame: pd.DataFrame, reason: str) -> FeatureSpec:
    """`spec` without the columns that have no value in `frame` (e.g. a long-window feature in the earliest
    snapshots): nothing can be learnt from them, and gradient boosting cannot bin an all-missing column."""
    missing = {c for c in spec.columns if frame[c].isna().all()}
    if not missing:
        return spec
    return FeatureSpec(
        tuple(c for c in spec.numeric if c not in missing),
        tuple(c for c in spec.categorical if c not in missing),
        {**spec.dropped, **dict.fromkeys(sorted(missing), reason)},
    )


def _is_numeric_text(series: pd.Series) -> bool:
    values = series.dropna()
    return len(values) > 0 and bool(pd.to_numeric(values.astype(object), errors="coerce").notna().all())


def _numeric_frame(frame: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Feature columns only; numeric/bool as float and categoricals as object with NaN for missing (pandas
    nullable dtypes, pd.NA and bools otherwise trip the imputers and encoders)."""
    out = frame[spec.columns].copy()
    for column in spec.numeric:
        out[column] = pd.to_numeric(out[column].astype(object), errors="coerce").astype(float)
    for column in spec.categorical:
        out[column] = out[column].astype(object).where(out[column].notna(), np.nan)
    return out


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """sign(x) * log(1 + |x|): counts, tokens and costs are heavy-tailed; a linear model needs them on a log scale."""
    return np.sign(x) * np.log1p(np.abs(x))


def _logistic_pipeline(spec: FeatureSpec, random_state: int) -> Pipeline:
    transformers = []
    if spec.numeric:
        numeric = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                ("log", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
                ("scale", StandardScaler()),
            ]
        )
        transformers.append(("numeric", numeric, list(spec.numeric)))
    if spec.categorical:
        categorical = Pipeline(
            [
                ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
                ("onehot", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20, max_categories=30)),
            ]
        )
        transformers.append(("categorical", categorical, list(spec.categorical)))
    return Pipeline(
        [
            ("preprocess", ColumnTransformer(transformers)),
            ("model", LogisticRegression(C=1.0, max_iter=500, random_state=random_state)),
        ]
    )


def _boosting_pipeline(spec: FeatureSpec, random_state: int) -> Pipeline:
    transformers = []
    if spec.numeric:  # the booster handles missing numeric values natively
        transformers.append(("numeric", "passthrough", list(spec.numeric)))
    if spec.categorical:
        encoder = OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=np.nan,
            encoded_missing_value=np.nan,
            max_categories=250,  # the booster's categorical support needs fewer than 255 levels
        )
        transformers.append(("categorical", encoder, list(spec.categorical)))
    categorical_mask = [False] * len(spec.numeric) + [True] * len(spec.categorical)
    model = HistGradientBoostingClassifier(
        learning_rate=0.1,
        max_iter=120,
        max_leaf_nodes=31,
        min_samples_leaf=40,
        l2_regularization=1.0,
        categorical_features=categorical_mask if spec.categorical else None,
        early_stopping=False,  # its internal split would be random across snapshots
        random_state=random_state,
    )
    return Pipeline([("preprocess", ColumnTransformer(transformers)), ("model", model)])


CANDIDATES = {"logistic_regression": _logistic_pipeline, "gradient_boosting": _boosting_pipeline}


# --- temporal split ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemporalSplit:
    train: np.ndarray  # boolean masks over the labelled rows
    validation: np.ndarray
    holdout: np.ndarray
    periods: dict[str, list[str]]
    note: str


def temporal_split(
    times: pd.Series | None,
    n_rows: int,
    holdout_fraction: float = 0.25,
    validation_fraction: float = 0.2,
    sized_by: np.ndarray | None = None,
) -> TemporalSplit:
    """Split by snapshot period: the latest periods holding ~`holdout_fraction` of the rows are the holdout, the
    latest periods before them holding ~`validation_fraction` of the remaining rows validate (each at least one
    period, at least one period left to train); without a time column, by row order.

    `sized_by`: what each row counts when sizing the parts (default: 1). The model passes the labels, so each part
    holds its share of the churners, the scarce class every metric and the calibration depend on."""
    if times is None:
        order = np.arange(n_rows)
        holdout_start = round(n_rows * (1 - holdout_fraction))
        validation_start = round(holdout_start * (1 - validation_fraction))
        return TemporalSplit(
            train=order < validation_start,
            validation=(order >= validation_start) & (order < holdout_start),
            holdout=order >= holdout_start,
            periods={},
            note="no time_column: split by row order (rows must be sorted by time for this to be a temporal split)",
        )
    weights = pd.Series(np.ones(len(times)) if sized_by is None else np.asarray(sized_by, float), index=times.index)
    per_period = weights[times.notna()].groupby(times.dropna()).sum().sort_index()
    periods, counts = per_period.index.to_numpy(), per_period.to_numpy()
    if len(periods) < 3:
        raise ValueError(f"time column needs >= 3 distinct periods (train/validation/holdout), got {len(periods)}")
    n_holdout = _latest_periods_holding(counts, holdout_fraction)
    n_validation = _latest_periods_holding(counts[:-n_holdout], validation_fraction)
    if len(periods) - n_holdout - n_validation < 1:
        n_holdout, n_validation = 1, 1
    holdout_periods = periods[-n_holdout:]
    validation_periods = periods[-n_holdout - n_validation : -n_holdout]
    train_periods = periods[: -n_holdout - n_validation]
    values = times.to_numpy()
    return TemporalSplit(
        train=np.isin(values, train_periods),
        validation=np.isin(values, validation_periods),
        holdout=np.isin(values, holdout_periods),
        periods={
            "train": [_period_text(train_periods[0]), _period_text(train_periods[-1])],
            "validation": [_period_text(validation_periods[0]), _period_text(validation_periods[-1])],
            "holdout": [_period_text(holdout_periods[0]), _period_text(holdout_periods[-1])],
        },
        note="temporal split by snapshot period, sized by " + ("rows" if sized_by is None else "churners"),
    )


def _latest_periods_holding(rows_per_period: np.ndarray, fraction: float) -> int:
    """How many of the latest periods it takes to hold at least `fraction` of the rows (at least one)."""
    from_latest = np.cumsum(rows_per_period[::-1])
    return max(1, int(np.searchsorted(from_latest, fraction * rows_per_period.sum())) + 1)


def _period_text(value: object) -> str:
    if isinstance(value, np.datetime64 | pd.Timestamp | dt.date):
        return pd.Timestamp(value).date().isoformat()
    return str(value)


# --- choosing a candidate ------------------------------------------------------------------------------------------


def choose_candidate(
    validation_probabilities: dict[str, np.ndarray], y: np.ndarray, random_state: int = 0
) -> tuple[str, dict[str, float]]:
    """One-standard-error rule on validation PR-AUC: the best candidate, unless a simpler one (earlier in the
    mapping) trails it by no more than the bootstrap standard error of their paired PR-AUC difference. With a few
    dozen churners in the validation snapshots the difference is noisy, and the simpler model generalises more
    reliably. Returns the chosen name and, per candidate, the standard error of its gap to the best."""
    names = list(validation_probabilities)
    scores = {n: float(average_precision_score(y, validation_probabilities[n])) for n in names}
    best = max(names, key=lambda n: scores[n])
    simpler = names[: names.index(best)]
    rng = np.random.default_rng(random_state)
    curves = {n: _PrecisionRecallSteps(validation_probabilities[n], y) for n in [best, *simpler]}
    gaps: dict[str, list[float]] = {n: [] for n in simpler}
    for _ in range(BOOTSTRAP_RESAMPLES if simpler else 0):
        weights = np.bincount(rng.integers(0, len(y), len(y)), minlength=len(y))
        if (weights * y).sum() in (0, weights.sum()):
            continue  # a resample needs both classes
        best_score = curves[best].average_precision(weights)
        for name in simpler:
            gaps[name].append(best_score - curves[name].average_precision(weights))
    gap_se = {best: 0.0, **{n: float(np.std(g, ddof=1)) if len(g) > 1 else 0.0 for n, g in gaps.items()}}
    for name in simpler:
        if scores[best] - scores[name] <= gap_se[name]:
            return name, gap_se
    return best, gap_se


class _PrecisionRecallSteps:
    """average_precision_score(y, probabilities, sample_weight=w) for many weightings w of the same rows: sorted
    once; ties in the probabilities count as one threshold, as in scikit-learn."""

    def __init__(self, probabilities: np.ndarray, y: np.ndarray) -> None:
        self.order = np.argsort(-probabilities, kind="stable")
        sorted_p = probabilities[self.order]
        self.positive = y[self.order].astype(float)
        self.last_of_tie = np.r_[np.flatnonzero(np.diff(sorted_p) != 0), len(sorted_p) - 1]

    def average_precision(self, weights: np.ndarray) -> float:
        w = weights[self.order].astype(float)
        true_positives = np.cumsum(w * self.positive)[self.last_of_tie]
        selected = np.cumsum(w)[self.last_of_tie]
        precision = np.divide(true_positives, selected, out=np.zeros_like(selected), where=selected > 0)
        recall_steps = np.diff(true_positives, prepend=0.0) / true_positives[-1]
        return float(np.sum(recall_steps * precision))


# --- the model -----------------------------------------------------------------------------------------------------


def _calibrated(pipeline: Pipeline, x: pd.DataFrame, y: np.ndarray, method: str) -> CalibratedClassifierCV:
    calibrator = CalibratedClassifierCV(FrozenEstimator(pipeline), method=method)
    return calibrator.fit(x, y)


def risk_bands(probabilities: Sequence[float], thresholds: dict[str, float]) -> np.ndarray:
    """'high' at or above thresholds['high'], 'medium' at or above thresholds['medium'], else 'low'."""
    p = np.asarray(probabilities, dtype=float)
    return np.where(p >= thresholds["high"], "high", np.where(p >= thresholds["medium"], "medium", "low"))


def risk_band_thresholds(validation_probabilities: Sequence[float]) -> dict[str, float]:
    """Thresholds so that the riskiest 10 % of the validation snapshot is 'high' and the next 20 % 'medium'."""
    p = np.asarray(validation_probabilities, dtype=float)
    high = float(np.quantile(p, 1 - RISK_BAND_SHARES["high"]))
    medium = float(np.quantile(p, 1 - RISK_BAND_SHARES["high"] - RISK_BAND_SHARES["medium"]))
    return {"high": high, "medium": min(medium, high)}


@dataclass
class ChurnModel:
    """A calibrated churn classifier with its holdout evaluation. Use `fit` to build one."""

    estimator: CalibratedClassifierCV
    features: FeatureSpec
    label: str
    time_column: str | None
    chosen: str
    risk_thresholds: dict[str, float]
    reference_values: dict[str, object]  # per feature, the "typical customer" value used by explain()
    evaluation: dict
    importances: pd.DataFrame
    trained_at: str
    version: str
    data_window: dict[str, str | None]
    model_name: str = MODEL_NAME
    notes: list[str] = field(default_factory=list)

    # prediction ------------------------------------------------------------------------------------------------

    def _x(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.features.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"frame lacks feature columns the model was trained on: {missing}")
        return _numeric_frame(frame, self.features)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of churn for each row."""
        return self.estimator.predict_proba(self._x(frame))[:, 1]

    def risk_band(self, frame: pd.DataFrame) -> np.ndarray:
        return risk_bands(self.predict_proba(frame), self.risk_thresholds)

    def explain(self, frame: pd.DataFrame, top_k: int = 3) -> pd.DataFrame:
        """Top drivers per row by baseline substitution.

        For each feature, the probability change when that one feature is set to the training population's
        typical value (median / most frequent): contribution = p(row) - p(row with feature typical). Positive
        contributions push the row's risk up. Returns, per row, driver_i / contribution_i for i = 1..top_k and a
        readable `top_drivers` text; only risk-raising drivers are listed.
        """
        x = self._x(frame)
        base = self.estimator.predict_proba(x)[:, 1]
        columns = self.features.columns
        contributions = np.empty((len(x), len(columns)))
        for j, column in enumerate(columns):
            substituted = x.copy()
            substituted[column] = self.reference_values[column]
            contributions[:, j] = base - self.estimator.predict_proba(substituted)[:, 1]
        order = np.argsort(-contributions, axis=1, kind="stable")[:, :top_k]
        out = pd.DataFrame(index=frame.index)
        texts = [[] for _ in range(len(x))]
        for i in range(min(top_k, len(columns))):
            idx = order[:, i]
            values = contributions[np.arange(len(x)), idx]
            names = np.asarray(columns, dtype=object)[idx]
            raising = values > 0
            out[f"driver_{i + 1}"] = np.where(raising, names, None)
            out[f"contribution_{i + 1}"] = np.where(raising, values, np.nan)
            for row in np.nonzero(raising)[0]:
                texts[row].append(f"{names[row]} (+{values[row]:.3f})")
        out["top_drivers"] = ["; ".join(t) for t in texts]
        return out

    def score(
        self,
        frame: pd.DataFrame,
        customer_column: str = "customer_external_id",
        time_column: str | None = None,
        mrr_column: str | None = "mrr",
        top_k: int = 3,
    ) -> pd.DataFrame:
        """Rows shaped like ml.churn_predictions (without run stamping): one per scored customer-snapshot."""
        time_column = time_column or self.time_column
        probability = self.predict_proba(frame)
        drivers = self.explain(frame, top_k=top_k)
        mrr = (
            pd.to_numeric(frame[mrr_column], errors="coerce").to_numpy(dtype=float)
            if mrr_column and mrr_column in frame.columns
            else np.full(len(frame), np.nan)
        )
        return pd.DataFrame(
            {
                "customer_external_id": frame[customer_column].to_numpy(),
                "snapshot_month": frame[time_column].to_numpy() if time_column else None,
                "churn_probability": probability,
                "risk_band": risk_bands(probability, self.risk_thresholds),
                "mrr": mrr,
                "mrr_at_risk": probability * mrr,
                "top_drivers": drivers["top_drivers"].to_numpy(),
                "model_version": self.version,
            },
            columns=PREDICTION_COLUMNS,
        )

    # records and persistence ----------------------------------------------------------------------------------

    def run_record(self) -> dict:
        """One ml.churn_model_runs row (metrics and importances as JSON text)."""
        return {
            "model_version": self.version,
            "model_name": self.model_name,
            "trained_at": self.trained_at,
            "data_window_start": self.data_window.get("start"),
            "data_window_end": self.data_window.get("end"),
            "chosen_model": self.chosen,
            "metrics": json.dumps(_jsonable(self.evaluation)),
            "importances": self.importances.to_json(orient="records"),
        }

    def model_card(self) -> str:
        h = self.evaluation["holdout"]
        lines = [
            f"# Churn model {self.version}",
            "",
            f"- Trained at: {self.trained_at} (UTC); data window {self.data_window.get('start')} .. "
            f"{self.data_window.get('end')}",
            f"- Label: `{self.label}` (1 = churns next month); time column: `{self.time_column}`",
            f"- Chosen model: {self.chosen} (on validation PR-AUC, one-standard-error rule), sigmoid-calibrated on "
            "the validation periods",
            f"- Features ({len(self.features.columns)}): {', '.join(self.features.columns)}",
            f"- Not used: {json.dumps(self.features.dropped)}" if self.features.dropped else "- Not used: none",
            f"- Split: {json.dumps(self.evaluation['split'])}",
            "",
            "## Holdout metrics (later snapshots than any training or validation row)",
            "",
            "| metric | model | base-rate baseline |",
            "|---|---|---|",
            f"| ROC-AUC | {h['roc_auc']:.3f} | 0.500 |",
            f"| PR-AUC | {h['pr_auc']:.3f} | {h['pr_auc_baseline']:.3f} |",
            f"| Brier | {h['brier']:.4f} | {h['brier_baseline']:.4f} |",
            f"| Log loss | {h['log_loss']:.4f} | {h['log_loss_baseline']:.4f} |",
            "",
            f"Top-decile lift {h['lift']:.2f}, capture {h['capture']:.1%}"
            + (f", MRR-weighted capture {h['weighted_capture']:.1%}" if "weighted_capture" in h else "")
            + (f"; oracle AUC {h['oracle_auc']:.3f} (ratio {h['auc_to_oracle']:.3f})" if "oracle_auc" in h else ""),
            "",
            f"Risk bands (validation quantiles): high >= {self.risk_thresholds['high']:.4f}, "
            f"medium >= {self.risk_thresholds['medium']:.4f}",
            "",
            "## Top permutation importances (holdout, drop in ROC-AUC)",
            "",
            *[f"- {r.feature}: {r.importance_mean:.4f}" for r in self.importances.head(10).itertuples()],
            "",
            "## Notes",
            "",
            *[f"- {n}" for n in self.notes],
        ]
        return "\n".join(lines) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write <path>/<version>/model.joblib, model_card.md and metrics.json; returns that directory."""
        directory = Path(path) / self.version
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, directory / "model.joblib")
        (directory / "model_card.md").write_text(self.model_card())
        (directory / "metrics.json").write_text(json.dumps(_jsonable(self.evaluation), indent=2))
        return directory

    @staticmethod
    def load(path: str | Path) -> ChurnModel:
        """Load from a directory written by `save` (or the model.joblib file itself)."""
        path = Path(path)
        model = joblib.load(path / "model.joblib" if path.is_dir() else path)
        if not isinstance(model, ChurnModel):
            raise TypeError(f"{path} does not hold a ChurnModel")
        return model


def load(path: str | Path) -> ChurnModel:
    return ChurnModel.load(path)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return _jsonable(value.to_dict(orient="records"))
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if not np.isfinite(value) else float(value)
    return value


# --- fitting -------------------------------------------------------------------------------------------------------


def _reference_values(x: pd.DataFrame, spec: FeatureSpec) -> dict[str, object]:
    values: dict[str, object] = {}
    for column in spec.numeric:
        values[column] = float(x[column].median()) if x[column].notna().any() else np.nan
    for column in spec.categorical:
        mode = x[column].mode(dropna=True)
        values[column] = mode.iloc[0] if len(mode) else np.nan
    return values


def _version(frame_shape: tuple[int, int], label_sum: int, spec: FeatureSpec, trained_at: str) -> str:
    digest = hashlib.sha256(json.dumps([frame_shape, label_sum, spec.columns]).encode()).hexdigest()[:8]
    return f"churn-{trained_at.replace('-', '').replace(':', '').replace('T', '-')[:15]}-{digest}"


def fit(
    frame: pd.DataFrame,
    label: str,
    time_column: str | None = None,
    *,
    exclude: Sequence[str] = (),
    weight_column: str | None = None,
    oracle_column: str | None = None,
    refit: bool = True,
    importance_rows: int = 20_000,
    random_state: int = 0,
    n_threads: int | None = None,
) -> ChurnModel:
    """Fit a calibrated churn model on a customer-snapshot table.

    frame: one row per customer (per snapshot); `label` is 0/1 (rows with a missing label are ignored).
    time_column: snapshot period (date, timestamp, string or number that sorts in time) for the temporal split.
    exclude: columns that are not features (ids, names, leakage). weight_column (e.g. MRR) and oracle_column (the
    simulator's true hazard) are never features; they feed MRR-weighted capture and the oracle AUC.
    n_threads: cap on native (OpenMP/BLAS) threads while fitting; 1 is fastest on an oversubscribed machine.
    """
    with threadpool_limits(limits=n_threads):
        return _fit(
            frame, label, time_column, exclude, weight_column, oracle_column, refit, importance_rows, random_state
        )


def _fit(
    frame: pd.DataFrame,
    label: str,
    time_column: str | None,
    exclude: Sequence[str],
    weight_column: str | None,
    oracle_column: str | None,
    refit: bool,
    importance_rows: int,
    random_state: int,
) -> ChurnModel:
    if label not in frame.columns:
        raise ValueError(f"label column {label!r} not in frame")
    for column in (time_column, weight_column, oracle_column, *exclude):
        if column is not None and column not in frame.columns:
            raise ValueError(f"column {column!r} not in frame")
    notes: list[str] = []
    labelled = frame[frame[label].notna()]
    if len(labelled) < len(frame):
        notes.append(f"{len(frame) - len(labelled)} rows without a label ignored")
    if time_column is not None:
        missing_time = labelled[time_column].isna()
        if missing_time.any():
            raise ValueError(f"time column {time_column!r} is missing at row {labelled.index[missing_time][0]!r}")
        labelled = labelled.sort_values(time_column, kind="stable")
    y_values = pd.to_numeric(labelled[label].astype(object), errors="coerce").astype(float).to_numpy()
    if np.isnan(y_values).any() or not set(np.unique(y_values)) <= {0.0, 1.0}:
        raise ValueError(f"label column {label!r} must be 0/1 (or boolean)")
    y = y_values.astype(int)
    not_features = [label, *(c for c in (time_column, weight_column, oracle_column) if c), *exclude]
    spec = infer_features(labelled, not_features)
    x = _numeric_frame(labelled, spec)
    split = temporal_split(labelled[time_column] if time_column else None, len(labelled), sized_by=y)
    notes.append(split.note)
    for part in ("train", "validation", "holdout"):
        y_part = y[getattr(split, part)]
        if len(y_part) == 0 or y_part.min() == y_part.max():
            raise ValueError(f"the {part} part of the temporal split needs both churners and non-churners")

    spec = _without_columns_missing_in(spec, x[split.train], "no value in the training periods")
    if spec.dropped:
        notes.append(f"columns not used as features: {spec.dropped}")
    x = x[spec.columns]

    x_train, y_train = x[split.train], y[split.train]
    x_val, y_val = x[split.validation], y[split.validation]
    candidates = {}
    for name, make in CANDIDATES.items():
        pipeline = make(spec, random_state).fit(x_train, y_train)
        p_val = pipeline.predict_proba(x_val)[:, 1]
        candidates[name] = {
            "pipeline": pipeline,
            "validation_probabilities": p_val,
            "validation_pr_auc": float(average_precision_score(y_val, p_val)),
            "validation_roc_auc": float(roc_auc_score(y_val, p_val)),
        }
    chosen, gap_se = choose_candidate(
        {name: c["validation_probabilities"] for name, c in candidates.items()}, y_val, random_state
    )
    estimator = _calibrated(candidates[chosen]["pipeline"], x_val, y_val, "sigmoid")
    thresholds = risk_band_thresholds(estimator.predict_proba(x_val)[:, 1])

    holdout = split.holdout
    x_hold, y_hold = x[holdout], y[holdout]
    p_hold = estimator.predict_proba(x_hold)[:, 1]
    base_rate = float(y[split.train | split.validation].mean())
    metrics = classification_metrics(y_hold, p_hold, base_rate)
    weights = labelled[weight_column].to_numpy(dtype=float)[holdout] if weight_column else None
    metrics.update(lift_and_capture(y_hold, p_hold, weights, top_fraction=0.1))
    if oracle_column:
        oracle = labelled[oracle_column].to_numpy(dtype=float)[holdout]
        metrics["oracle_auc"] = float(roc_auc_score(y_hold, oracle))
        metrics["auc_to_oracle"] = metrics["roc_auc"] / metrics["oracle_auc"]
    # the uncalibrated baseline candidate on the same holdout, so the choice can be audited
    candidate_report = {
        name: {
            "validation_pr_auc": c["validation_pr_auc"],
            "validation_pr_auc_gap_se": gap_se.get(name),
            "validation_roc_auc": c["validation_roc_auc"],
            "holdout_roc_auc": float(roc_auc_score(y_hold, c["pipeline"].predict_proba(x_hold)[:, 1])),
        }
        for name, c in candidates.items()
    }
    sample = np.random.default_rng(random_state).permutation(len(x_hold))[:importance_rows]
    permutation = permutation_importance(
        estimator, x_hold.iloc[sample], y_hold[sample], scoring="roc_auc", n_repeats=3, random_state=random_state
    )
    importances = (
        pd.DataFrame(
            {
                "feature": spec.columns,
                "importance_mean": permutation.importances_mean,
                "importance_std": permutation.importances_std,
            }
        )
        .sort_values("importance_mean", ascending=False)
        .reset_index(drop=True)
    )
    evaluation = {
        "holdout": metrics,
        "calibration": calibration_table(y_hold, p_hold),
        "candidates": candidate_report,
        "chosen_model": chosen,
        "split": {
            "periods": split.periods,
            "rows": {p: int(getattr(split, p).sum()) for p in ("train", "validation", "holdout")},
        },
        "risk_thresholds": thresholds,
    }

    if refit:
        refitted = _refit_forward(x, y, split, labelled, time_column, spec, chosen, random_state)
        if refitted is None:
            notes.append("refit skipped: the latest window lacks churners or non-churners; deployed = evaluated model")
        else:
            estimator, thresholds = refitted
            evaluation["risk_thresholds_deployed"] = thresholds
            notes.append("deployed model re-trained with the split moved forward (holdout metrics describe the recipe)")

    trained_at = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat()
    window = (
        {"start": _period_text(labelled[time_column].min()), "end": _period_text(labelled[time_column].max())}
        if time_column
        else {"start": None, "end": None}
    )
    return ChurnModel(
        estimator=estimator,
        features=spec,
        label=label,
        time_column=time_column,
        chosen=chosen,
        risk_thresholds=thresholds,
        reference_values=_reference_values(x[split.train], spec),
        evaluation=evaluation,
        importances=importances,
        trained_at=trained_at,
        version=_version(labelled.shape, int(y.sum()), spec, trained_at),
        data_window=window,
        notes=notes,
    )


def _refit_forward(
    x: pd.DataFrame,
    y: np.ndarray,
    split: TemporalSplit,
    labelled: pd.DataFrame,
    time_column: str | None,
    spec: FeatureSpec,
    chosen: str,
    random_state: int,
) -> tuple[CalibratedClassifierCV, dict[str, float]] | None:
    """Same recipe, moved forward: train on all but the latest validation-sized window, calibrate on that window."""
    if time_column:
        periods = np.sort(labelled[time_column].dropna().unique())
        n_validation = len(np.unique(labelled[time_column].to_numpy()[split.validation]))
        calibration_mask = np.isin(labelled[time_column].to_numpy(), periods[-n_validation:])
    else:
        n_validation = int(split.validation.sum())
        calibration_mask = np.arange(len(x)) >= len(x) - n_validation
    for part in (y[calibration_mask], y[~calibration_mask]):
        if len(part) == 0 or part.min() == part.max():
            return None
    pipeline = CANDIDATES[chosen](spec, random_state).fit(x[~calibration_mask], y[~calibration_mask])
    estimator = _calibrated(pipeline, x[calibration_mask], y[calibration_mask], "sigmoid")
    return estimator, risk_band_thresholds(estimator.predict_proba(x[calibration_mask])[:, 1])
