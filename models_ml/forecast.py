"""Monthly forecasts with prediction intervals whose coverage is measured, chosen by rolling-origin backtest.

Candidates: naive, naive with drift, drift over the last six months (`drift_6m`), seasonal naive (period 12, with
>= 24 points), and ETS variants from statsmodels (simple exponential smoothing, additive trend, damped additive
trend; damped trend with additive seasonality when >= 36 points). Each candidate yields a mean path and a
model-based standard deviation per step, sigma_h (analytic for the naive family per Hyndman & Athanasopoulos 5.5,
statsmodels' exact ETS prediction variance). The candidate with the lowest backtest MASE is chosen.

`drift_6m` is the drift method on the trailing seven points (six monthly changes: slope and residual sigma from
that window). A young SaaS company's MRR or customer count grows by more each month; the all-history drift
averages in the small early increments, so it lags, and its lag (a one-sided error) grows with the age of the
series. The trailing-window drift lags by a roughly constant three months of acceleration, so its errors are much
less biased and stay alike from origin to origin, which the calibration below relies on. The backtest decides per
series whether it beats the all-history drift (on a steady trend it usually does not).

Interval calibration (`calibrate_intervals`, on by default). The model-based interval mean +- z_L * sigma_h assumes
the model is right; on short, fast-growing series a lagging trend model's out-of-sample errors are larger than
its in-sample residuals say, and on others smaller. So sigma_h is rescaled by what the backtest observed, in the
spirit of the empirical intervals of Williams & Goodman (1971) and Chatfield (1993, "Calculating interval
forecasts"): the scores are the standardized out-of-sample errors z = e / sigma_h of the same model at the same
step h from the `n_origins` origins before the forecast origin, as far as their actuals were known at it (pooled
over steps while a step has fewer than MIN_CALIBRATION_ERRORS; the model-based interval while the pool is that
small too); with s^2 = mean(z^2) over those n scores, the level-L interval is mean +- t_n(L) * s * sigma_h, where
t_n(L) is Student-t's central-L quantile on n degrees of freedom (a new draw from a zero-mean normal whose variance
is estimated by s^2 lies within t_n(L) * s with probability L). The interval is symmetric and may be narrower or
wider than the model-based one; a bias (a trend model lagging a growing series) widens it through s instead of
shifting it, and a higher level is always wider. The sliding window keeps the calibration set the same size at
every origin and drops the errors of the earliest, least representative origins (a company's first months) as
the series grows. The final forecast is calibrated on the backtest's scored origins, the last `n_origins`.

What was compared (bench/bench_ml.py's series; the simulator's MRR, paying customers and usage cost of 69 companies,
60 synthetic growth series of 24 months; 3-month backtest as in orchestration/assets/ml/forecasts.py): model-based
intervals of a lagging drift cover ~0.45-0.6 at 80 % on the growth series; the former calibration (equal-tailed
order statistics of signed scores, never narrower than the model's interval) took the extreme of a dozen scores on
each side and over-covered steady series (0.89 on bench_ml and on usage cost), also with this sliding window; signed
quantiles that may narrow, a fitted bias shift and conformal order statistics of |z| were not better overall (closer
to nominal on some kinds of series, further on others, similar Winkler scores). Its weaknesses: it assumes
normal-shaped standardized errors (so 95 % intervals cover ~0.88-0.92 on the growth series), and while the lag of an
accelerating series still grows, the errors of the calibration window trail it, so there it covers a little under
the nominal level (~0.75-0.78 at 80 %). Coverage is whatever the backtest measures: on 36 forecasts from 12
overlapping origins it varies by about +-0.1 from series to series even with intervals whose calibration is known
exactly.

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

MODEL_VERSION = "forecast-2"
SEASON = 12
REFERENCE_MODEL = "naive"
MIN_CALIBRATION_ERRORS = 12
LOCAL_DRIFT_MONTHS = 6  # drift_6m: the drift method on the last six monthly changes


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


def _local_drift(months: int) -> Callable[[np.ndarray, int, dict], PointForecast]:
    """The drift method on the trailing `months` changes: slope and residual sigma from that window only."""

    def forecast(y: np.ndarray, horizon: int, warm: dict) -> PointForecast:
        return _drift(y[-(months + 1) :], horizon, warm)

    return forecast


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
    Candidate(f"drift_{LOCAL_DRIFT_MONTHS}m", 3, _local_drift(LOCAL_DRIFT_MONTHS)),
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


def _normal_quantiles(levels: Sequence[float]) -> list[float]:
    """Per level, the model-based (normal) multiplier of sigma_h."""
    return [float(stats.norm.ppf(0.5 + level / 200.0)) for level in levels]


def _interval_quantiles(scores: np.ndarray, steps: np.ndarray, step: int, levels: Sequence[float]) -> list[float]:
    """Per level, the multiplier of sigma_h one step ahead: t_n(L) * RMS of the n standardized errors known so far
    at this step (their steps alongside; all steps pooled while this one has too few); the normal quantile while
    even the pool is too small."""
    finite = np.isfinite(scores)
    same_step = scores[finite & (steps == step)]
    pooled = scores[finite]
    if len(same_step) >= MIN_CALIBRATION_ERRORS:
        calibration = same_step
    elif len(pooled) >= MIN_CALIBRATION_ERRORS:
        calibration = pooled
    else:
        return _normal_quantiles(levels)
    n = len(calibration)
    scale = float(np.sqrt(np.mean(calibration**2)))
    return [float(stats.t.ppf(0.5 + level / 200.0, n)) * scale for level in levels]


def _standardized(errors: pd.DataFrame) -> np.ndarray:
    """Signed errors in units of the model's own sigma_h (the horizon dependence stays in sigma_h)."""
    sigma = errors["sigma"].to_numpy()
    return (errors["actual"].to_numpy() - errors["mean"].to_numpy()) / np.where(sigma > 0, sigma, np.nan)


def _score(errors: pd.DataFrame, levels: Sequence[float], calibrate: bool, window: int) -> pd.DataFrame:
    """Per model (and step), on the scored origins: MASE, sMAPE, interval coverage and Winkler score; the intervals
    of origin o are calibrated on the errors of origins o - window .. o - 1 that were known at o."""
    scored = []
    normal = _normal_quantiles(levels)
    for _, model_errors in errors.groupby("model", sort=False):
        model_errors = model_errors.sort_values(["origin", "step"])
        standardized = _standardized(model_errors)
        steps = model_errors["step"].to_numpy()
        # an error at origin o with step h is known only from origin o + h on: calibrate on those only
        origins = model_errors["origin"].to_numpy()
        known_at = origins + steps
        keep = model_errors["scored"].to_numpy(dtype=bool)
        model_errors = model_errors[keep].copy()
        quantiles = []
        for origin, step in zip(model_errors["origin"], model_errors["step"], strict=True):
            if calibrate:
                usable = (known_at <= origin) & (origins >= origin - window)
                quantiles.append(_interval_quantiles(standardized[usable], steps[usable], step, levels))
            else:
                quantiles.append(normal)
        quantiles = np.array(quantiles).reshape(-1, len(levels))
        sigma = model_errors["sigma"].to_numpy()
        actual = model_errors["actual"]
        for column, level in enumerate(levels):
            lower = model_errors["mean"] - quantiles[:, column] * sigma
            upper = model_errors["mean"] + quantiles[:, column] * sigma
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
    scored = _score(errors, levels, calibrate, n_origins)
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
        # the last n_origins origins, as in the backtest (their errors are all known by now)
        chosen_errors = run.errors[(run.errors["model"] == chosen) & run.errors["scored"]]
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
    quantiles = np.array(
        [
            _interval_quantiles(standardized, steps, step, levels) if calibrate_intervals else _normal_quantiles(levels)
            for step in range(1, horizon + 1)
        ]
    ).reshape(-1, len(levels))
    for column, level in enumerate(levels):
        frame[f"lo_{level:g}"] = point.mean - quantiles[:, column] * point.sigma
        frame[f"hi_{level:g}"] = point.mean + quantiles[:, column] * point.sigma
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
