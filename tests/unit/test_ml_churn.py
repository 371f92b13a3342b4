"""Churn model on synthetic snapshots with a known hazard: temporal split, calibration, bars, explanations, I/O."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from models_ml import churn
from models_ml.synthetic import customer_snapshots

LABEL, TIME = "churned_next_month", "snapshot_month"


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    # OpenMP threads spin badly when the machine is shared; one thread keeps these tests fast and steady
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def snapshots() -> pd.DataFrame:
    return customer_snapshots(n_customers=1_500, n_snapshots=16, seed=3)


@pytest.fixture(scope="module")
def model(snapshots) -> churn.ChurnModel:
    return churn.fit(
        snapshots,
        LABEL,
        TIME,
        exclude=("customer_external_id",),
        weight_column="mrr",
        oracle_column="true_hazard",
        importance_rows=2_000,
    )


def test_split_is_temporal_and_features_exclude_ids_weights_and_oracle(model, snapshots):
    periods = model.evaluation["split"]["periods"]
    assert periods["train"][1] < periods["validation"][0] <= periods["validation"][1] < periods["holdout"][0]
    assert periods["holdout"][1] == snapshots[TIME].max().date().isoformat()
    rows = model.evaluation["split"]["rows"]
    assert sum(rows.values()) == len(snapshots)
    assert rows["holdout"] == (snapshots[TIME] >= pd.Timestamp(periods["holdout"][0])).sum()
    for column in ("customer_external_id", "mrr", "true_hazard", LABEL, TIME):
        assert column not in model.features.columns
    assert "plan_tier" in model.features.categorical and "quota_use" in model.features.numeric


def test_holdout_quality_against_baselines_and_oracle(model):
    holdout = model.evaluation["holdout"]
    assert holdout["auc_to_oracle"] >= 0.9
    assert holdout["roc_auc"] > 0.75
    assert holdout["pr_auc"] > 3 * holdout["pr_auc_baseline"]
    assert holdout["brier"] < holdout["brier_baseline"]
    assert holdout["log_loss"] < holdout["log_loss_baseline"]
    assert holdout["lift"] >= 3
    assert 0 < holdout["weighted_capture"] <= 1
    candidates = model.evaluation["candidates"]
    assert set(candidates) == {"logistic_regression", "gradient_boosting"}
    # one-standard-error rule: the best on validation PR-AUC, or the simpler model within one SE of it
    best = max(candidates, key=lambda name: candidates[name]["validation_pr_auc"])
    chosen = candidates[model.chosen]
    gap = candidates[best]["validation_pr_auc"] - chosen["validation_pr_auc"]
    assert model.chosen == best or (model.chosen == "logistic_regression" and gap <= chosen["validation_pr_auc_gap_se"])


def test_temporal_split_periods_are_sized_by_rows():
    # a growing panel: 10, 20, ..., 200 rows in periods 0..19 (2,100 rows)
    times = pd.Series(np.repeat(np.arange(20), np.arange(1, 21) * 10))
    split = churn.temporal_split(times, len(times))
    assert split.periods == {"train": ["0", "14"], "validation": ["15", "16"], "holdout": ["17", "19"]}
    # the holdout's 570 rows are the fewest latest periods holding >= 25 %; validation >= 20 % of the other 1,530
    assert (split.holdout.sum(), split.validation.sum(), split.train.sum()) == (570, 330, 1200)
    even = churn.temporal_split(pd.Series(np.repeat(np.arange(8), 10)), 80)
    assert even.periods["holdout"] == ["6", "7"] and even.periods["validation"] == ["4", "5"]  # 20 >= 0.2 x 60


def test_temporal_split_sized_by_churners_gives_every_part_churners():
    # 10 periods of 100 rows; the only churners are in periods 2, 4 and 9: by rows, validation (5, 6) has none
    times = pd.Series(np.repeat(np.arange(10), 100))
    churned = np.isin(np.arange(1_000), [250, 450, 950]).astype(int)
    by_rows = churn.temporal_split(times, len(times))
    assert churned[by_rows.validation].sum() == 0
    split = churn.temporal_split(times, len(times), sized_by=churned)
    assert [churned[getattr(split, part)].sum() for part in ("train", "validation", "holdout")] == [1, 1, 1]
    assert split.periods == {"train": ["0", "3"], "validation": ["4", "8"], "holdout": ["9", "9"]}


def test_choose_candidate_prefers_the_simpler_model_within_one_standard_error():
    rng = np.random.default_rng(0)
    y = (rng.random(2_000) < 0.05).astype(int)
    complex_scores, simple_scores = y + rng.normal(0, 0.6, (2, y.size))  # equally good: PR-AUC 0.39 vs 0.37
    chosen, gap_se = churn.choose_candidate({"simple": simple_scores, "complex": complex_scores}, y)
    assert chosen == "simple" and gap_se["simple"] > 0 and gap_se["complex"] == 0
    clearly_better = {"simple": y + rng.normal(0, 3.0, y.size), "complex": complex_scores}
    assert churn.choose_candidate(clearly_better, y)[0] == "complex"


def test_bootstrap_average_precision_equals_scikit_learn_with_weights():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(1)
    y = (rng.random(500) < 0.1).astype(int)
    p = np.round(rng.random(500) * 0.5 + 0.3 * y, 2)  # rounded: many ties
    steps = churn._PrecisionRecallSteps(p, y)
    for weights in (np.ones(500, int), np.bincount(rng.integers(0, 500, 500), minlength=500)):
        assert steps.average_precision(weights) == pytest.approx(average_precision_score(y, p, sample_weight=weights))


def test_probabilities_are_calibrated_on_the_holdout(model, snapshots):
    table = model.evaluation["calibration"]
    assert len(table) == 10 and table["n"].sum() == model.evaluation["split"]["rows"]["holdout"]
    assert table["mean_predicted"].is_monotonic_increasing
    holdout = snapshots[snapshots[TIME] >= pd.Timestamp(model.evaluation["split"]["periods"]["holdout"][0])]
    p = model.predict_proba(holdout)
    assert p.shape == (len(holdout),) and np.all((p >= 0) & (p <= 1))
    assert p.mean() == pytest.approx(holdout[LABEL].mean(), rel=0.35)
    top = table.iloc[-1]
    assert top["observed_rate"] == pytest.approx(top["mean_predicted"], rel=0.35)


def test_importances_and_explanations_find_the_planted_drivers(model, snapshots):
    top_features = set(model.importances["feature"].head(4))
    assert top_features & {"logins_30d", "error_rate_30d", "failed_payments_90d"}
    # a typical customer with many failed payments: that is what should drive its risk
    typical = snapshots.iloc[[0]].copy()
    for column, value in model.reference_values.items():
        typical[column] = value
    typical["failed_payments_90d"] = 6.0
    explained = model.explain(typical, top_k=3)
    assert explained.iloc[0]["driver_1"] == "failed_payments_90d"
    assert explained.iloc[0]["contribution_1"] > 0.05
    assert explained.iloc[0]["top_drivers"].startswith("failed_payments_90d (+")


def test_score_rows_are_shaped_like_churn_predictions(model, snapshots):
    latest = snapshots[snapshots[TIME] == snapshots[TIME].max()]
    scored = model.score(latest)
    assert list(scored.columns) == churn.PREDICTION_COLUMNS
    assert len(scored) == len(latest)
    np.testing.assert_allclose(scored["mrr_at_risk"], scored["churn_probability"] * latest["mrr"].to_numpy())
    assert set(scored["risk_band"]) <= {"high", "medium", "low"}
    high_share = (scored["risk_band"] == "high").mean()
    assert 0.03 < high_share < 0.25  # thresholds come from the validation snapshot's top 10 %
    assert (scored["model_version"] == model.version).all()


def test_risk_bands_known_answer():
    thresholds = {"high": 0.3, "medium": 0.1}
    assert list(churn.risk_bands([0.05, 0.1, 0.29, 0.3, 0.9], thresholds)) == [
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]
    computed = churn.risk_band_thresholds(np.linspace(0, 1, 101))
    assert computed == {"high": pytest.approx(0.9), "medium": pytest.approx(0.7)}


def test_save_load_round_trip_with_model_card(model, snapshots, tmp_path):
    directory = model.save(tmp_path)
    assert directory == tmp_path / model.version
    card = (directory / "model_card.md").read_text()
    assert model.version in card and "ROC-AUC" in card and "oracle AUC" in card
    loaded = churn.load(directory)
    sample = snapshots.head(200)
    np.testing.assert_allclose(loaded.predict_proba(sample), model.predict_proba(sample))
    record = model.run_record()
    assert json.loads(record["metrics"])["holdout"]["roc_auc"] == pytest.approx(model.evaluation["holdout"]["roc_auc"])
    assert json.loads(record["importances"])[0]["feature"] == model.importances["feature"].iloc[0]


def test_generic_table_without_time_column_and_with_messy_types():
    rng = np.random.default_rng(0)
    n = 3_000
    usage = rng.gamma(2.0, 10.0, n)
    segment = rng.choice(["smb", "mid", "ent"], n)
    risk = 1 / (1 + np.exp(-(-1.0 - 0.08 * usage + 1.5 * (segment == "smb"))))
    frame = pd.DataFrame(
        {
            "account": [f"a{i}" for i in range(n)],
            "usage": pd.array(np.where(rng.random(n) < 0.1, np.nan, usage), dtype="Float64"),
            "segment": pd.Series(segment, dtype="category"),
            "is_annual": rng.random(n) < 0.3,
            "mrr": [Decimal(f"{v:.2f}") for v in rng.gamma(2.0, 50.0, n)],  # NUMERIC from Postgres
            "signed_up_at": pd.Timestamp("2024-01-01"),
            "churned": (rng.random(n) < risk).astype(int),
        }
    )
    model = churn.fit(frame, "churned", refit=False)
    assert any("row order" in note for note in model.notes)
    assert "account" in model.features.dropped and "signed_up_at" in model.features.dropped
    assert {"usage", "mrr", "is_annual"} <= set(model.features.numeric) and model.features.categorical == ("segment",)
    assert model.evaluation["holdout"]["roc_auc"] > 0.75
    assert len(model.predict_proba(frame.drop(columns="churned"))) == n


def test_bad_input_is_named():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1], "t": [1, 1, 2, 2]})
    with pytest.raises(ValueError, match="'label_missing'"):
        churn.fit(frame, "label_missing", "t")
    with pytest.raises(ValueError, match="3 distinct periods"):
        churn.fit(frame, "y", "t")
    with pytest.raises(ValueError, match="'t' is missing at row 2"):
        churn.fit(frame.assign(t=[1, 2, None, 3]), "y", "t")
    with pytest.raises(ValueError, match="0/1"):
        churn.fit(frame.assign(y=[0, 2, 0, 1], t=[1, 2, 3, 3]), "y", "t")


def test_a_feature_without_values_in_the_training_periods_is_not_used(snapshots):
    # e.g. a long-window trend: missing in the early snapshots, present from the validation periods on
    frame = snapshots.copy()
    frame["usage_trend_6m"] = np.where(frame[TIME] >= frame[TIME].sort_values().iloc[len(frame) * 3 // 4], 1.0, np.nan)
    model = churn.fit(frame, LABEL, TIME, exclude=("customer_external_id", "true_hazard"), refit=False)
    assert "usage_trend_6m" not in model.features.columns
    assert model.features.dropped["usage_trend_6m"] == "no value in the training periods"
    assert len(model.score(frame, customer_column="customer_external_id", time_column=TIME)) == len(frame)
