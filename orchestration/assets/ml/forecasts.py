"""Forecast assets: MRR, paying customers and usage cost 12 months ahead (ml.mrr_forecast) with the rolling-origin
backtest that chose each series' model (ml.forecast_backtests)."""

# No `from __future__ import annotations`: Dagster reads the asset functions' `context` annotation at definition time.
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg

from orchestration.assets.ml.common import (
    ML_GROUP,
    POOL,
    markdown_table,
    mart_key,
    ml_key,
    stamped,
    utc_now,
    write,
)
from orchestration.lazy import lazy_module
from orchestration.resources.warehouse import WarehouseResource
from orchestration.settings import Settings

# Deferred: only executing the assets needs them (orchestration/lazy.py), hence the quoted annotations.
np = lazy_module("numpy")
pd = lazy_module("pandas")
forecast = lazy_module("models_ml.forecast")

HORIZON = 12
LEVELS = (80, 95)
N_ORIGINS = 12
BAR_HORIZON = 3  # the quality bar: 3-month-ahead accuracy and interval coverage, in a 3-month rolling backtest
# Intervals rescaled by the RMS of the standardized backtest errors of the last N_ORIGINS origins per step ahead
# (models_ml.forecast): on short, fast-growing series the model-based widths under-cover (a lagging trend).
CALIBRATE_INTERVALS = True
# series name -> kpi_monthly column (closed months only)
SERIES = {"mrr": "mrr", "paying_customers": "paying_customers", "usage_cost": "usage_cost"}
FORECAST_TABLE = "mrr_forecast"
BACKTEST_TABLE = "forecast_backtests"


def load_series(warehouse: WarehouseResource) -> "dict[str, pd.Series]":
    """Monthly series from marts.kpi_monthly, closed months, starting at the first month with a positive value."""
    columns = ", ".join(SERIES.values())
    kpis = warehouse.query_df(f"SELECT month, {columns} FROM marts.kpi_monthly WHERE is_closed_month ORDER BY month")
    kpis["month"] = pd.to_datetime(kpis["month"])
    series = {}
    for name, column in SERIES.items():
        values = pd.Series(pd.to_numeric(kpis[column]).to_numpy(dtype=float), index=kpis["month"], name=name)
        started = values.fillna(0).gt(0).cumsum().gt(0)
        series[name] = values[started.to_numpy()]
    return series


@dataclass(frozen=True)
class ForecastRun:
    forecasts: "pd.DataFrame"  # ml.mrr_forecast
    backtests: "pd.DataFrame"  # ml.forecast_backtests
    evaluation: "pd.DataFrame"  # per series: the quality-bar numbers


def run_forecasts(series: "dict[str, pd.Series]", run_id: str) -> ForecastRun:
    created_at = utc_now()
    forecasts, backtests, evaluation = [], [], []
    for name, values in series.items():
        result = forecast.forecast_with_backtest(
            values, HORIZON, LEVELS, n_origins=N_ORIGINS, calibrate_intervals=CALIBRATE_INTERVALS
        )
        frame = result.forecast.reset_index()
        frame.insert(0, "series", name)
        frame["month"] = frame["month"].dt.date
        frame["last_actual_month"] = values.index[-1].date()
        frame["last_actual_value"] = float(values.iloc[-1])
        forecasts.append(frame)
        if result.backtest_by_step.empty or len(values) < forecast.MIN_TRAIN_POINTS + BAR_HORIZON:
            continue  # too short to backtest
        bar_steps = forecast.backtest(
            values, BAR_HORIZON, N_ORIGINS, LEVELS, by_step=True, calibrate_intervals=CALIBRATE_INTERVALS
        )
        for steps in (result.backtest_by_step, bar_steps):
            backtests.append(steps.assign(series=name, chosen=steps["model"] == result.chosen_model))
        bar_pooled = forecast.backtest(values, BAR_HORIZON, N_ORIGINS, LEVELS, calibrate_intervals=CALIBRATE_INTERVALS)
        evaluation.append(_bar_numbers(name, result.chosen_model, bar_pooled))
    backtest_frame = pd.concat(backtests, ignore_index=True) if backtests else pd.DataFrame()
    if not backtest_frame.empty:
        backtest_frame = backtest_frame[["series", *[c for c in backtest_frame.columns if c != "series"]]]
    return ForecastRun(
        forecasts=stamped(pd.concat(forecasts, ignore_index=True), run_id, created_at),
        backtests=stamped(backtest_frame, run_id, created_at),
        evaluation=pd.DataFrame(evaluation),
    )


def _bar_numbers(name: str, chosen: str, pooled: "pd.DataFrame") -> dict[str, object]:
    """The chosen model vs naive in the 3-month backtest (errors pooled over steps 1..3): MASE and coverage."""
    rows = pooled.set_index("model")
    model = chosen if chosen in rows.index else str(rows["mase"].idxmin())
    naive_mase = float(rows["mase"].get(forecast.REFERENCE_MODEL, np.nan))
    return {
        "series": name,
        "chosen_model": chosen,
        "scored_model": model,
        "horizon": BAR_HORIZON,
        "n_origins": int(rows.loc[model, "n_origins"]),
        "mase_chosen": float(rows.loc[model, "mase"]),
        "mase_naive": naive_mase,
        "mase_ratio": float(rows.loc[model, "mase"]) / naive_mase if naive_mase > 0 else np.nan,
        "coverage_80": float(rows.loc[model, "coverage_80"]),
        "coverage_95": float(rows.loc[model, "coverage_95"]),
    }


def build_forecast_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                ml_key(FORECAST_TABLE),
                group_name=ML_GROUP,
                deps=[mart_key("kpi_monthly")],
                kinds={"python", settings.warehouse},
                description=(
                    f"MRR, paying customers and usage cost forecast {HORIZON} months ahead with 80 % and 95 % "
                    "intervals; per series the candidate with the lowest backtest MASE is chosen."
                ),
            ),
            dg.AssetSpec(
                ml_key(BACKTEST_TABLE),
                group_name=ML_GROUP,
                deps=[mart_key("kpi_monthly")],
                kinds={"python", settings.warehouse},
                description=(
                    "Rolling-origin backtest of every forecast candidate per series and step ahead: MASE, sMAPE, "
                    "interval coverage and Winkler score, ratio to the naive model, chosen flag."
                ),
            ),
        ],
        pool=POOL,
        name="ml_forecasts",
    )
    def ml_forecasts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
        run = run_forecasts(load_series(warehouse), context.run_id)
        write(warehouse, FORECAST_TABLE, run.forecasts)
        write(warehouse, BACKTEST_TABLE, run.backtests)
        evaluation = run.evaluation
        numbers: dict[str, object] = {}
        for record in evaluation.to_dict(orient="records"):
            for field in ("mase_chosen", "mase_naive", "mase_ratio", "coverage_80", "coverage_95"):
                if np.isfinite(record[field]):
                    numbers[f"{record['series']}.{field}"] = dg.MetadataValue.float(record[field])
        yield dg.MaterializeResult(
            asset_key=ml_key(FORECAST_TABLE),
            metadata={
                "rows": len(run.forecasts),
                "chosen_models": dg.MetadataValue.json(
                    dict(zip(evaluation.get("series", []), evaluation.get("chosen_model", []), strict=True))
                ),
                **numbers,
            },
        )
        yield dg.MaterializeResult(
            asset_key=ml_key(BACKTEST_TABLE),
            metadata={
                "rows": len(run.backtests),
                "bars": markdown_table(evaluation) if not evaluation.empty else dg.MetadataValue.md("no backtest"),
            },
        )

    return [ml_forecasts]
