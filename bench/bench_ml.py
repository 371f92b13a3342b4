"""Benchmark of models_ml on synthetic data with known answers: speed of churn training + scoring at
20,000 customers x 24 snapshots, and every model's quality bar. Prints one JSON document.

    .venv/bin/python bench/bench_ml.py [--customers 20000] [--snapshots 24] [--threads 2]

OpenMP threads (the gradient-boosting fit and predict) spin badly when the machine is oversubscribed: on a shared
box run with --threads 1 and read the CPU seconds as well as the wall seconds.

Bars (from the issue): churn ROC-AUC >= 0.90 x oracle AUC, Brier >= 15 % better than the base rate, top-decile
lift >= 3, training + scoring <= 60 s on 2 cores; forecast 3-month MASE <= 0.8 x naive and 80 % interval coverage
in [0.70, 0.90]; alerts recall >= 0.8 at precision >= 0.5.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from threadpoolctl import threadpool_limits

from models_ml import anomalies, churn, forecast, retention
from models_ml.synthetic import customer_snapshots, daily_metrics_with_incidents, monthly_series


def bench_churn(n_customers: int, n_snapshots: int) -> dict:
    started = time.perf_counter()
    frame = customer_snapshots(n_customers=n_customers, n_snapshots=n_snapshots, seed=42)
    generated = time.perf_counter()
    cpu_start = time.process_time()
    labelled = frame[frame["snapshot_month"] < frame["snapshot_month"].max()]
    latest = frame[frame["snapshot_month"] == frame["snapshot_month"].max()]
    model = churn.fit(
        labelled,
        "churned_next_month",
        "snapshot_month",
        exclude=("customer_external_id",),
        weight_column="mrr",
        oracle_column="true_hazard",
    )
    trained = time.perf_counter()
    scored = model.score(latest)
    done = time.perf_counter()
    cpu_seconds = time.process_time() - cpu_start
    h = model.evaluation["holdout"]
    return {
        "rows": len(frame),
        "generate_seconds": round(generated - started, 2),
        "train_seconds": round(trained - generated, 2),
        "score_seconds": round(done - trained, 2),
        "train_plus_score_seconds": round(done - generated, 2),
        "train_plus_score_cpu_seconds": round(cpu_seconds, 2),
        "scored_rows": len(scored),
        "chosen_model": model.chosen,
        "candidates": model.evaluation["candidates"],
        "holdout": {k: round(v, 4) if isinstance(v, float) else v for k, v in h.items()},
        "bars": {
            "auc_to_oracle>=0.90": h["auc_to_oracle"] >= 0.90,
            "brier_skill>=0.15": h["brier_skill"] >= 0.15,
            "lift>=3": h["lift"] >= 3,
            "train_plus_score<=60s": done - generated <= 60,
            "train_plus_score_cpu<=60s": cpu_seconds <= 60,
        },
        "top_importances": model.importances.head(5).to_dict(orient="records"),
    }


def bench_forecast(n_series: int = 20) -> dict:
    started = time.perf_counter()
    coverage_80, coverage_95, ratio_3, chosen = [], [], [], []
    for seed in range(n_series):
        series = monthly_series(n=48, seed=seed, trend=2_000, noise=800, walk=1_500)
        result = forecast.forecast_with_backtest(series, horizon=12)
        row = result.backtest.set_index("model").loc[result.chosen_model]
        step = result.backtest_by_step
        at_3 = step[(step["model"] == result.chosen_model) & (step["step"] == 3)].iloc[0]
        coverage_80.append(row["coverage_80"])
        coverage_95.append(row["coverage_95"])
        ratio_3.append(at_3["mase_ratio_to_naive"])
        chosen.append(result.chosen_model)
    return {
        "series": n_series,
        "seconds_per_series": round((time.perf_counter() - started) / n_series, 2),
        "chosen_models": {m: chosen.count(m) for m in sorted(set(chosen))},
        "mean_coverage_80": round(float(np.mean(coverage_80)), 3),
        "mean_coverage_95": round(float(np.mean(coverage_95)), 3),
        "share_of_series_with_coverage_80_in_0.7_0.9": round(
            float(np.mean([(0.7 <= c <= 0.9) for c in coverage_80])), 3
        ),
        "median_mase_ratio_to_naive_at_3_months": round(float(np.median(ratio_3)), 3),
        "share_of_series_with_ratio<=0.8": round(float(np.mean([r <= 0.8 for r in ratio_3])), 3),
    }


def bench_alerts(seeds: int = 10) -> dict:
    config = anomalies.load_config()
    scores = []
    for seed in range(seeds):
        daily, incidents = daily_metrics_with_incidents(days=180, n_incidents=8, seed=seed)
        alerts = anomalies.detect(daily, config.detector)
        scores.append(anomalies.evaluate_alerts(alerts, incidents, match_metric=True))
    recall = float(np.mean([s["recall"] for s in scores]))
    precision = float(np.mean([s["precision"] for s in scores]))
    return {"seeds": seeds, "recall": round(recall, 3), "precision": round(precision, 3)}


def bench_retention() -> dict:
    regular = retention.fit_sbg([1000, 631, 468, 382, 326, 289, 262, 241])
    high_end = retention.fit_sbg([1000, 869, 743, 653, 593, 551, 517, 491])
    return {
        "regular": {"alpha": round(regular.alpha, 3), "beta": round(regular.beta, 3), "paper": [0.704, 1.182]},
        "high_end": {"alpha": round(high_end.alpha, 3), "beta": round(high_end.beta, 3), "paper": [0.668, 3.806]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--snapshots", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip", nargs="*", default=[], choices=["churn", "forecast", "alerts", "retention"])
    args = parser.parse_args()
    results = {"threads": args.threads}
    with threadpool_limits(limits=args.threads):
        if "churn" not in args.skip:
            results["churn"] = bench_churn(args.customers, args.snapshots)
        if "forecast" not in args.skip:
            results["forecast"] = bench_forecast()
        if "alerts" not in args.skip:
            results["alerts"] = bench_alerts()
        if "retention" not in args.skip:
            results["retention"] = bench_retention()
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
