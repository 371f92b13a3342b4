"""Monthly forecasts with prediction intervals whose coverage is measured, chosen by rolling-origin backtest.

Candidates: naive, naive with drift, seasonal naive (period 12, with >= 24 points), and ETS variants from
statsmodels (simple exponential smoothing, additive trend, damped additive trend; damped trend with additive
seasonality when >= 36 points). Each candidate yields a mean path and a model-based standard deviation per step
(sigma_h: analytic for the naive family per Hyndman & Athanasopoulos 5.5, statsmodels' exact ETS prediction
variance); intervals are mean +- z_L * sigma_h, and the backtest reports how often they cover the actuals.

Interval calibration (`calibrate_intervals`, on by default): the model-based widths assume the model is right;
on short, fast-growing series (the simulated company's MRR, paying customers, usage cost) a trend model lags an
accelerating series, its errors are biased and the intervals under-cover. So, split-conformal style, the interval at
step h is mean + [q_lo, q_hi] * sigma_h, where q_lo / q_hi are empirical quantiles (finite-sample adjusted) of the
signed standardized errors e / sigma_h of the same model at the same step h from earlier backtest origins whose
actuals were already known (pooled over steps while a step has fewer than MIN_CALIBRATION_ERRORS of them; the
normal quantile while the pool is that small too). Calibration only widens the model-based interval (each bound
is the wider of the two): errors of overlapping origins are strongly correlated, so on random-walk-like series a
narrower empirical interval under-covers (bench/bench_ml.py). The backtest scores only its last `n_origins`
origins, and calibrates them on up to `n_origins` further origins before those. Coverage is whatever the backtest
measures.

Accuracy follows Hyndman & Athanasopoulos, "Forecasting: Principles and Practice" (3rd ed., 5.8-5.10): MASE scales
absolute errors by the in-sample mean absolute one-step naive error of the training window at each origin; sMAPE
in percent; Winkler interval score.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from models_ml.evaluation import naive_scale, smape, winkler

MODEL_VERSION = "forecast-1"
SEASON = 12
REFERENCE_MODEL = "naive"
MIN_CALIBRATION_ERRORS = 12


@dataclass(frozen=True)
class PointForecast:
    mean: np.ndarray
    sigma: np.ndarray  # model-based standard deviation of the h-step error, per step


# --- candidates ----------------------------------------------------------------------------------------------------


def _naive(y: np.ndarray, horizon: int, warm: dict) -> PointForecast:
    sigma = np.std(np.diff(y), ddof=1) if len(y) > 2 else 0.0
    h = np.arange(1, horizon + 1)
    return PointForecast(np.full(horizon, y[-1]), sigma * np.sqrt(h))


def _drift(y: np.ndarray, horizon: int, warm: dict) -> PointForecast:
    t = len(y)
    slope = (y[-1] - y[0]) / (t - 1)
    residuals = np.diff(y) - slope
    sigma = np.sqrt(np.sum(residuals**2) / max(t - 2, 1))
    h = np.arange(1, horizon + 1)
    return PointForecast(y[-1] + slope * h, sigma * np.sqrt(h * (1 + h / (t - 1))))


def _seasonal_naive(y: np.ndarray, horizon: int, warm: dict) -> PointForecast:
    h = np.arange(1, horizon + 1)
    last_season = y[-SEASON:]
    residuals = y[SEASON:] - y[:-SEASON]
    sigma = np.sqrt(np.mean(residuals**2))
    return PointForecast(last_season[(h - 1) % SEASON], sigma * np.sqrt((h - 1) // SEASON + 1))


def _ets(trend: str | None, damped: bool, seasonal: str | None) -> Callable[[np.ndarray, int, dict], PointForecast]:
    def forecast(y: np.ndarray, horizon: int, warm: dict) -> PointForecast:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        # statsmodels' prediction results need a pandas index; the dates themselves do not matter here
        endog = pd.Series(y.astype(float), index=pd.period_range("2000-01", periods=len(y), freq="M"))
        model = ETSModel(
            endog,
            error="add",
            trend=trend,
            damped_trend=damped,
            seasonal=seasonal,
            seasonal_periods=SEASON if seasonal else None,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on short windows; accuracy is judged by backtest
            # warm start from the previous origin's estimates: 3-4x fewer optimizer steps over a backtest
            result = model.fit(disp=False, maxiter=200, start_params=warm.get("params"))
            warm["params"] = result.params
            prediction = result.get_prediction(start=len(y), end=len(y) + horizon - 1, method="exact")
            frame = prediction.summary_frame(alpha=0.3173)  # +-1 sigma for an additive-error model
        mean = frame["mean"].to_numpy()
        sigma = (frame["pi_upper"].to_numpy() - frame["pi_lower"].to_numpy()) / 2.0
        return PointForecast(mean, np.maximum(sigma, 0.0))

    return forecast


@dataclass(frozen=True)
class Candidate:
    name: str
    min_points: int
    predict: Callable[[np.ndarray, int, dict], PointForecast]  # (history, horizon, warm-start state)


CANDIDATES: tuple[Candidate, ...] = (
    Candidate("naive", 3, _naive),
    Candidate("drift", 3, _drift),
    Candidate("seasonal_naive", 2 * SEASON, _seasonal_naive),
    Candidate("ets_ann", 6, _ets(None, False, None)),
    Candidate("ets_aan", 8, _ets("add", False, None)),
    Candidate("ets_aadn", 10, _ets("add", True, None)),
    Candidate("ets_aada", 3 * SEASON, _ets("add", True, "add")),
)


def _available(n_points: int, names: Sequence[str] | None) -> list[Candidate]:
    chosen = [c for c in CANDIDATES if n_points >= c.min_points and (names is None or c.name in names)]
    if not chosen:
        raise ValueError(f"series too short ({n_points} points) for any candidate model")
    return chosen


# --- input normalisation -------------------------------------------------------------------------------------------


def _monthly(series: pd.Series) -> pd.Series:
    """Index the series by calendar month (PeriodIndex 'M'); reject gaps, duplicates and missing values."""
    if not isinstance(series, pd.Series):
        raise TypeError("series must be a pandas Series indexed by month")
    index = series.index
    if isinstance(index, pd.PeriodIndex):
        months = index.asfreq("M")
    else:
        months = pd.DatetimeIndex(pd.to_datetime(index)).to_period("M")
    values = pd.Series(pd.to_numeric(series.to_numpy(), errors="coerce"), index=months).sort_index()
    if values.index.has_duplicates:
        duplicates = sorted(set(values.index[values.index.duplicated()].astype(str)))
        raise ValueError(f"series {series.name!r} has duplicate months: {duplicates}")
    if values.isna().any():
        missing = list(values.index[values.isna()].astype(str))
        raise ValueError(f"series {series.name!r} has missing values at {missing}")
    expected = pd.period_range(values.index[0], values.index[-1], freq="M")
    if len(expected) != len(values):
        missing = sorted(set(expected.astype(str)) - set(values.index.astype(str)))
        raise ValueError(f"series {series.name!r} has gaps (missing months {missing})")
    return values


# --- backtest ------------------------------------------------------------------------------------------------------


MIN_TRAIN_POINTS = 6


def _origins(n_points: int, horizon: int, n_origins: int) -> list[int]:
    """Training lengths for rolling origins: the last `n_origins` cut points that leave a full horizon to score."""
    last = n_points - horizon
    first = max(MIN_TRAIN_POINTS, last - n_origins + 1)
    return list(range(first, last + 1))


def _calibration_origins(scored: Sequence[int], n_origins: int) -> list[int]:
    """Up to `n_origins` cut points before the scored ones: their errors only calibrate intervals."""
    if not scored:
        return []
    return list(range(max(MIN_TRAIN_POINTS, scored[0] - n_origins), scored[0]))


def _backtest_errors(
    y: np.ndarray,
    horizon: int,
    origins: Sequence[int],
    candidates: Sequence[Candidate],
    warm_states: dict,
    calibration_origins: Sequence[int] = (),
) -> pd.DataFrame:
    rows = []
    scored_origins = set(origins)
    for candidate in candidates:
        warm = warm_states.setdefault(candidate.name, {})
        for cut in (*calibration_origins, *origins):
            if cut < candidate.min_points:
                continue
            train, actual = y[:cut], y[cut : cut + horizon]
            try:
                point = candidate.predict(train, horizon, warm)
            except (ValueError, np.linalg.LinAlgError):
                continue
            scale = naive_scale(train)
            for step in range(horizon):
                rows.append(
                    {
                        "model": candidate.name,
                        "origin": cut,
                        "step": step + 1,
                        "actual": actual[step],
                        "mean": point.mean[step],
                        "sigma": point.sigma[step],
                        "scale": scale,
                        "scored": cut in scored_origins,
                    }
                )
    columns = ["model", "origin", "step", "actual", "mean", "sigma", "scale", "scored"]
    return pd.DataFrame(rows, columns=columns)


def _normal_bounds(level: float) -> tuple[float, float]:
    z = float(stats.norm.ppf(0.5 + level / 200.0))
    return -z, z


def _conformal_bounds(errors: np.ndarray, level: float) -> tuple[float, float]:
    """Lower / upper multipliers of sigma_h: finite-sample adjusted empirical quantiles of signed standardized errors
    (each tail gets (1 - level) / 2); the interval always contains the point forecast."""
    n = len(errors)
    tail = (1.0 - level / 100.0) / 2.0
    upper_rank = min(int(np.ceil((n + 1) * (1.0 - tail))), n)  # 1-based order statistics
    lower_rank = max(int(np.floor((n + 1) * tail)), 1)
    ordered = np.sort(errors)
    return min(float(ordered[lower_rank - 1]), 0.0), max(float(ordered[upper_rank - 1]), 0.0)


def _interval_bounds(standardized: np.ndarray, steps: np.ndarray, step: int, level: float) -> tuple[float, float]:
    """Multipliers for one step ahead from the signed standardized errors known so far (their steps alongside)."""
    finite = np.isfinite(standardized)
    same_step = standardized[finite & (steps == step)]
    pooled = standardized[finite]
    normal_lo, normal_hi = _normal_bounds(level)
    if len(same_step) >= MIN_CALIBRATION_ERRORS:
        lo, hi = _conformal_bounds(same_step, level)
    elif len(pooled) >= MIN_CALIBRATION_ERRORS:
        lo, hi = _conformal_bounds(pooled, level)
    else:
        return normal_lo, normal_hi
    # widen, never narrow: a dozen errors of overlapping origins are strongly correlated (a random walk's recent
    # errors can all be small), too little evidence for an interval narrower than the model's own
    return min(lo, normal_lo), max(hi, normal_hi)


def _standardized(errors: pd.DataFrame) -> np.ndarray:
    """Signed errors in units of the model's own sigma_h (the horizon dependence stays in sigma_h)."""
    sigma = errors["sigma"].to_numpy()
    return (errors["actual"].to_numpy() - errors["mean"].to_numpy()) / np.where(sigma > 0, sigma, np.nan)


def _score(errors: pd.DataFrame, levels: Sequence[float], calibrate: bool) -> pd.DataFrame:
    """Per model (and step), on the scored origins: MASE, sMAPE, interval coverage and Winkler score."""
    scored = []
    for _, model_errors in errors.groupby("model", sort=False):
        model_errors = model_errors.sort_values(["origin", "step"])
        standardized = _standardized(model_errors)
        steps = model_errors["step"].to_numpy()
        # an error at origin o with step h is known only from origin o + h on: calibrate on those only
        known_at = (model_errors["origin"] + model_errors["step"]).to_numpy()
        keep = model_errors["scored"].to_numpy(dtype=bool)
        model_errors = model_errors[keep].copy()
        for level in levels:
            bounds = np.array(
                [
                    _interval_bounds(standardized[known_at <= origin], steps[known_at <= origin], step, level)
                    if calibrate
                    else _normal_bounds(level)
                    for origin, step in zip(model_errors["origin"], model_errors["step"], strict=True)
                ]
            ).reshape(-1, 2)
            sigma = model_errors["sigma"].to_numpy()
            lower = model_errors["mean"] + bounds[:, 0] * sigma
            upper = model_errors["mean"] + bounds[:, 1] * sigma
            actual = model_errors["actual"]
            model_errors[f"covered_{level:g}"] = ((actual >= lower) & (actual <= upper)).astype(float)
            model_errors[f"winkler_{level:g}"] = winkler(actual, lower, upper, level)
        absolute = (model_errors["actual"] - model_errors["mean"]).abs()
        model_errors["scaled_error"] = absolute / model_errors["scale"].where(model_errors["scale"] > 0)
        model_errors["smape"] = smape(model_errors["actual"], model_errors["mean"])
        scored.append(model_errors)
    return pd.concat(scored, ignore_index=True)


def _summary(scored: pd.DataFrame, keys: list[str], levels: Sequence[float]) -> pd.DataFrame:
    aggregations = {
        "n_origins": ("origin", "nunique"),
        "n_forecasts": ("actual", "size"),
        "mase": ("scaled_error", "mean"),
        "smape": ("smape", "mean"),
    }
    for level in levels:
        aggregations[f"coverage_{level:g}"] = (f"covered_{level:g}", "mean")
        aggregations[f"winkler_{level:g}"] = (f"winkler_{level:g}", "mean")
    return scored.groupby(keys, sort=False).agg(**aggregations).reset_index()


def _with_ratio(summary: pd.DataFrame, keys: list[str], horizon: int) -> pd.DataFrame:
    summary.insert(1, "horizon", horizon)
    naive = summary[summary["model"] == REFERENCE_MODEL].set_index(keys[1:] or "model")["mase"]
    if len(keys) > 1:
        summary["mase_ratio_to_naive"] = summary["mase"] / summary["step"].map(naive)
    else:
        summary["mase_ratio_to_naive"] = summary["mase"] / (naive.iloc[0] if len(naive) else np.nan)
    summary["model_version"] = MODEL_VERSION
    return summary


@dataclass(frozen=True)
class _BacktestRun:
    errors: pd.DataFrame
    summary: pd.DataFrame  # per model, pooled over steps
    by_step: pd.DataFrame  # per model and step
    warm_states: dict  # per model, the last origin's estimates (a warm start for the final fit)


def _run_backtest(
    y: np.ndarray,
    horizon: int,
    n_origins: int,
    levels: Sequence[float],
    models: Sequence[str] | None,
    calibrate: bool,
) -> _BacktestRun:
    """All candidates are scored on the same origins, so their metrics compare fairly; a candidate that needs
    more points than the earliest origin offers is left out."""
    origins = _origins(len(y), horizon, n_origins)
    if not origins:
        raise ValueError(f"series of {len(y)} points too short to backtest a {horizon}-month horizon")
    candidates = [c for c in _available(len(y), models) if c.min_points <= origins[0]]
    warm_states: dict = {}
    calibration_origins = _calibration_origins(origins, n_origins) if calibrate else []
    errors = _backtest_errors(y, horizon, origins, candidates, warm_states, calibration_origins)
    if errors.empty:
        raise ValueError(f"no candidate could be backtested on {len(y)} points with a {horizon}-month horizon")
    scored = _score(errors, levels, calibrate)
    return _BacktestRun(
        errors=errors,
        summary=_with_ratio(_summary(scored, ["model"], levels), ["model"], horizon),
        by_step=_with_ratio(_summary(scored, ["model", "step"], levels), ["model", "step"], horizon),
        warm_states=warm_states,
    )


def backtest(
    series: pd.Series,
    horizon: int,
    n_origins: int = 12,
    levels: Sequence[float] = (80, 95),
    by_step: bool = False,
    models: Sequence[str] | None = None,
    calibrate_intervals: bool = True,
) -> pd.DataFrame:
    """Rolling-origin backtest of every candidate that fits the series length.

    One row per candidate (model, horizon, n_origins, n_forecasts, mase, smape, coverage_80, winkler_80,
    coverage_95, winkler_95, mase_ratio_to_naive), errors pooled over steps 1..horizon; with `by_step=True`, one
    row per candidate and step (column `step`), e.g. to read the 3-month MASE.
    """
    y = _monthly(series).to_numpy(dtype=float)
    run = _run_backtest(y, horizon, n_origins, levels, models, calibrate_intervals)
    return run.by_step if by_step else run.summary


# --- forecast ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastResult:
    forecast: pd.DataFrame  # indexed by future month: horizon, mean, lo_80, hi_80, lo_95, hi_95, model
    backtest: pd.DataFrame  # as returned by backtest(); empty when the series is too short to backtest
    backtest_by_step: pd.DataFrame  # as returned by backtest(by_step=True)
    chosen_model: str


def forecast_with_backtest(
    series: pd.Series,
    horizon: int,
    levels: Sequence[float] = (80, 95),
    n_origins: int = 12,
    non_negative: bool = True,
    models: Sequence[str] | None = None,
    calibrate_intervals: bool = True,
) -> ForecastResult:
    """Backtest the candidates, choose the lowest MASE, forecast `horizon` months with calibrated intervals.

    A short series is backtested on a shorter horizon; below MIN_TRAIN_POINTS + 2 points the drift model is used
    with normal-theory intervals.
    """
    if horizon < 1:
        raise ValueError("horizon must be >= 1")
    monthly = _monthly(series)
    y = monthly.to_numpy(dtype=float)
    candidates = {c.name: c for c in _available(len(y), models)}
    backtest_horizon = min(horizon, max(1, len(y) - MIN_TRAIN_POINTS - 1))
    warm: dict = {}
    if len(y) >= MIN_TRAIN_POINTS + 1 + backtest_horizon:
        run = _run_backtest(y, backtest_horizon, n_origins, levels, models, calibrate_intervals)
        summary, by_step = run.summary, run.by_step
        chosen = str(summary.sort_values(["mase", "smape"]).iloc[0]["model"])
        chosen_errors = run.errors[run.errors["model"] == chosen]
        standardized, steps = _standardized(chosen_errors), chosen_errors["step"].to_numpy()
        warm = run.warm_states.get(chosen, {})
    else:
        summary = by_step = pd.DataFrame()
        chosen = "drift" if "drift" in candidates else next(iter(candidates))
        standardized = steps = np.array([])
    point = candidates[chosen].predict(y, horizon, warm)
    months = pd.period_range(monthly.index[-1] + 1, periods=horizon, freq="M")
    frame = pd.DataFrame({"horizon": np.arange(1, horizon + 1), "mean": point.mean}, index=months.to_timestamp())
    frame.index.name = "month"
    for level in levels:
        bounds = np.array(
            [
                _interval_bounds(standardized, steps, step, level) if calibrate_intervals else _normal_bounds(level)
                for step in range(1, horizon + 1)
            ]
        )
        frame[f"lo_{level:g}"] = point.mean + bounds[:, 0] * point.sigma
        frame[f"hi_{level:g}"] = point.mean + bounds[:, 1] * point.sigma
    if non_negative:
        frame[[c for c in frame.columns if c != "horizon"]] = frame.drop(columns="horizon").clip(lower=0.0)
    frame["model"] = chosen
    frame["model_version"] = MODEL_VERSION
    return ForecastResult(frame, summary, by_step, chosen)


def forecast(series: pd.Series, horizon: int, levels: Sequence[float] = (80, 95)) -> pd.DataFrame:
    """Monthly series in; per future month (index, month start): horizon, mean, lo_80, hi_80, lo_95, hi_95, model."""
    return forecast_with_backtest(series, horizon, levels).forecast


def forecast_many(
    series: Mapping[str, pd.Series], horizon: int = 12, levels: Sequence[float] = (80, 95), n_origins: int = 12
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shapes for ml.mrr_forecast and ml.forecast_backtests: (forecasts, backtests), long, with a `series` column."""
    forecasts, backtests = [], []
    for name, values in series.items():
        result = forecast_with_backtest(values, horizon, levels, n_origins=n_origins)
        forecasts.append(result.forecast.reset_index().assign(series=name))
        if not result.backtest.empty:
            chosen = result.backtest["model"] == result.chosen_model
            backtests.append(result.backtest.assign(series=name, chosen=chosen))
    forecast_frame = pd.concat(forecasts, ignore_index=True) if forecasts else pd.DataFrame()
    backtest_frame = pd.concat(backtests, ignore_index=True) if backtests else pd.DataFrame()
    if not forecast_frame.empty:
        forecast_frame = forecast_frame[["series", *[c for c in forecast_frame.columns if c != "series"]]]
    if not backtest_frame.empty:
        backtest_frame = backtest_frame[["series", *[c for c in backtest_frame.columns if c != "series"]]]
    return forecast_frame, backtest_frame
