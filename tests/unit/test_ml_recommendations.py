"""Cost and plan recommendations: known savings from small hand-built aggregates."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest

from models_ml import recommendations as rec

PRICES = pd.DataFrame(
    {
        "model": ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "claude-sonnet-4-5", "claude-haiku-4-5"],
        "provider": ["openai", "openai", "openai", "anthropic", "anthropic"],
        "input_cost_per_token": [2.5e-6, 1.5e-7, 2.0e-8, 3.0e-6, 1.0e-6],
        "output_cost_per_token": [1.0e-5, 6.0e-7, 0.0, 1.5e-5, 5.0e-6],
    }
)


def test_cheaper_model_for_short_prompts_uses_same_provider_list_prices():
    usage = pd.DataFrame(
        {
            "customer_external_id": ["c1", "c2", "c3"],
            "model": ["gpt-4o", "claude-haiku-4-5", "gpt-4o-mini"],
            "requests": [10_000, 100, 5_000],
            "prompt_tokens": [2_000_000, 10_000, 1_000_000],
            "completion_tokens": [1_000_000, 5_000, 500_000],
            "cost_usd": [15.0, 0.035, 0.45],
        }
    )
    out = rec.cheaper_model_for_short_prompts(usage, PRICES, window_days=15)
    assert list(out.columns) == rec.RECOMMENDATION_COLUMNS
    assert len(out) == 1  # c2 saves too little (cheapest already beside sonnet), c3 already on the cheapest
    row = out.iloc[0]
    target_cost = 2_000_000 * 1.5e-7 + 1_000_000 * 6.0e-7  # 0.9 USD in the window
    assert row["customer_external_id"] == "c1"
    assert row["estimated_monthly_saving_usd"] == pytest.approx((15.0 - target_cost) * 2, abs=0.01)
    evidence = json.loads(row["evidence"])
    assert evidence["suggested_model"] == "gpt-4o-mini" and evidence["provider"] == "openai"


def test_enable_caching_counts_avoidable_misses():
    keys = pd.DataFrame(
        {
            "customer_external_id": ["c1", "c1", "c1", "c2"],
            "model": ["gpt-4o"] * 4,
            "cache_key": ["k1", "k2", "k3", "k4"],
            "requests": [101, 50, 2, 100],
            "cache_hits": [1, 40, 0, 90],
            "cost_usd": [20.0, 5.0, 1.0, 2.0],
        }
    )
    keys["cost_usd"] = keys["cost_usd"].map(lambda v: Decimal(str(v)))  # NUMERIC columns arrive as Decimal
    out = rec.enable_caching(keys, window_days=30)
    assert len(out) == 1  # k2 and k4 already hit often; k3 is not repeated enough
    row = out.iloc[0]
    # k1: 100 misses cost 20 USD, 99 of them avoidable at 0.2 USD each
    assert row["estimated_monthly_saving_usd"] == pytest.approx(19.8)
    assert json.loads(row["evidence"])["repeated_keys"] == 1


def test_plan_right_sizing_needs_persistence():
    plans = pd.DataFrame(
        {"plan_tier": ["starter", "growth", "scale"], "tier_rank": [1, 2, 3], "monthly_price": [49.0, 199.0, 799.0]}
    )
    months = ["2025-04", "2025-05", "2025-06"]
    rows = []
    for customer, tier, mrr, uses in [
        ("over", "starter", 49.0, [1.3, 1.6, 1.2]),
        ("under", "scale", 799.0, [0.1, 0.05, 0.2]),
        ("mixed", "growth", 199.0, [1.3, 0.9, 1.4]),
        ("top", "scale", 799.0, [2.0, 2.0, 2.0]),
    ]:
        rows += [
            {"customer_external_id": customer, "month": m, "plan_tier": tier, "quota_use": u, "mrr": mrr}
            for m, u in zip(months, uses, strict=True)
        ]
    out = rec.plan_right_sizing(pd.DataFrame(rows), plans, months=3).set_index("customer_external_id")
    assert set(out.index) == {"over", "under"}
    assert out.loc["over", "recommendation_type"] == "plan_upgrade_offer"
    assert out.loc["over", "estimated_monthly_saving_usd"] == pytest.approx(150.0)
    assert out.loc["over", "impact_kind"] == "revenue_opportunity"
    assert out.loc["under", "recommendation_type"] == "plan_downgrade_risk"
    assert out.loc["under", "estimated_monthly_saving_usd"] == pytest.approx(600.0)
    assert out.loc["under", "priority"] == "high"


def test_error_hot_spots_price_the_failed_calls():
    errors = pd.DataFrame(
        {
            "customer_external_id": ["c1", "c2", "c3"],
            "scope": ["model:gpt-4o", "model:gpt-4o", "model:gpt-4o-mini"],
            "requests": [10_000, 100_000, 100_000],
            "failed_requests": [2_000, 1_000, 1_000],
            "cost_usd": [300.0, 500.0, 50.0],
        }
    )
    out = rec.error_hot_spots(errors, window_days=30)
    assert list(out["customer_external_id"]) == ["c1"]
    assert out.iloc[0]["estimated_monthly_saving_usd"] == pytest.approx(60.0)  # 2000 failures x 0.03 USD
    with_logged_cost = rec.error_hot_spots(errors.assign(failed_cost_usd=[10.0, 0.0, 0.0]), window_days=10)
    assert with_logged_cost.iloc[0]["estimated_monthly_saving_usd"] == pytest.approx(30.0)


def test_off_peak_embeddings_and_combine_order():
    hourly = pd.DataFrame(
        {
            "customer_external_id": ["c1"] * 4 + ["c2"] * 2,
            "hour": [2, 9, 14, 22, 10, 3],
            "requests": [100, 1_000, 1_000, 100, 10, 10],
            "cost_usd": [5.0, 40.0, 60.0, 5.0, 1.0, 1.0],
        }
    )
    out = rec.off_peak_embeddings(hourly, window_days=30, off_peak_discount=0.5)
    assert list(out["customer_external_id"]) == ["c1"]
    assert out.iloc[0]["estimated_monthly_saving_usd"] == pytest.approx(50.0)
    hot = pd.DataFrame(
        {
            "customer_external_id": ["x", "y"],
            "scope": ["service:chat", "service:chat"],
            "requests": [1_000, 100_000],
            "failed_requests": [500, 100],
            "cost_usd": [1_000.0, 100.0],
        }
    )
    combined = rec.combine(out, rec.error_hot_spots(hot, window_days=30))
    assert list(combined["recommendation_type"]) == ["error_hot_spot", "off_peak_embeddings"]
    assert rec.combine().empty and list(rec.combine().columns) == rec.RECOMMENDATION_COLUMNS


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="cost_usd"):
        rec.off_peak_embeddings(pd.DataFrame({"customer_external_id": [], "hour": [], "requests": []}), 30)
