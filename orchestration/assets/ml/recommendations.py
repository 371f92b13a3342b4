"""Cost-recommendation asset: usage and quota aggregates of the last 30 days -> models_ml.recommendations ->
ml.cost_recommendations (cheaper model for short prompts, error hot spots, plan right-sizing)."""

# No `from __future__ import annotations`: Dagster reads the asset functions' `context` annotation at definition time.
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
from orchestration.sources.schemas import MODEL_PRICES, MODEL_PROVIDERS

# Deferred: only executing the assets needs them (orchestration/lazy.py), hence the quoted annotations.
pd = lazy_module("pandas")
recommendations = lazy_module("models_ml.recommendations")

RECOMMENDATIONS_TABLE = "cost_recommendations"
WINDOW_DAYS = 30
SHORT_PROMPT_TOKENS = 400  # mean prompt tokens per request below which a day's chat traffic counts as short-prompt
RIGHT_SIZING_MONTHS = 3


def reference_prices() -> "pd.DataFrame":
    """The usage source's reference list prices (SOURCES.md), USD per token."""
    return pd.DataFrame(
        [
            {
                "model": model,
                "provider": MODEL_PROVIDERS[model],
                "input_cost_per_token": p_in,
                "output_cost_per_token": p_out,
            }
            for model, (p_in, p_out) in MODEL_PRICES.items()
        ]
    )


def _window_filter(warehouse: WarehouseResource) -> str:
    last = warehouse.query("SELECT max(usage_date) FROM marts.fct_usage_daily")[0][0]
    if last is None:
        raise ValueError("marts.fct_usage_daily is empty: no usage to recommend on")
    start = pd.Timestamp(last) - pd.Timedelta(days=WINDOW_DAYS - 1)
    return f"customer_id IS NOT NULL AND usage_date >= DATE '{start.date().isoformat()}'"


def build_recommendations(warehouse: WarehouseResource, run_id: str) -> "pd.DataFrame":
    window = _window_filter(warehouse)
    short_prompts = warehouse.query_df(
        f"""SELECT customer_id AS customer_external_id, model, sum(requests) AS requests,
                   sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
                   sum(cost_usd) AS cost_usd
            FROM marts.fct_usage_daily
            WHERE {window} AND service = 'chat' AND requests > 0
              AND prompt_tokens < {SHORT_PROMPT_TOKENS} * requests
            GROUP BY customer_id, model"""
    )
    errors = warehouse.query_df(
        f"""SELECT customer_id AS customer_external_id, 'model:' || model AS scope, sum(requests) AS requests,
                   sum(failed_requests) AS failed_requests, sum(cost_usd) AS cost_usd
            FROM marts.fct_usage_daily WHERE {window} GROUP BY customer_id, model"""
    )
    quota_use = warehouse.query_df(
        """SELECT m.customer_id AS customer_external_id, m.month, f.tier AS plan_tier,
                  m.quota_use_pct / 100.0 AS quota_use, m.mrr
           FROM marts.customer_margin_monthly AS m
           INNER JOIN marts.fct_mrr AS f ON f.customer_id = m.customer_id AND f.month = m.month
           WHERE m.is_closed_month AND m.is_paying AND m.quota_use_pct IS NOT NULL AND f.tier IS NOT NULL"""
    )
    plans = warehouse.query_df(
        """SELECT tier AS plan_tier, min(monthly_price) AS monthly_price FROM marts.dim_plans
           WHERE NOT is_deleted AND NOT is_free AND billing_interval = 'monthly' AND currency = 'USD'
           GROUP BY tier"""
    )
    plans["tier_rank"] = plans["monthly_price"].rank(method="first").astype(int)
    combined = recommendations.combine(
        recommendations.cheaper_model_for_short_prompts(short_prompts, reference_prices(), WINDOW_DAYS),
        recommendations.error_hot_spots(errors, WINDOW_DAYS),
        recommendations.plan_right_sizing(quota_use, plans, months=RIGHT_SIZING_MONTHS),
    )
    return stamped(combined, run_id, utc_now())


def build_recommendation_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=ml_key(RECOMMENDATIONS_TABLE),
        group_name=ML_GROUP,
        deps=[mart_key(name) for name in ("fct_usage_daily", "customer_margin_monthly", "fct_mrr", "dim_plans")],
        pool=POOL,
        kinds={"python", settings.warehouse},
        description=(
            f"Cost and plan recommendations over the last {WINDOW_DAYS} days of usage, each with a monthly USD "
            "estimate and its evidence: cheaper model for short-prompt chat traffic, customer x model error hot "
            f"spots, plan upgrade offers / downgrade risks from {RIGHT_SIZING_MONTHS} months of quota use."
        ),
    )
    def cost_recommendations(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        rows = build_recommendations(warehouse, context.run_id)
        write(warehouse, RECOMMENDATIONS_TABLE, rows)
        summary = (
            rows.groupby(["recommendation_type", "impact_kind"])["estimated_monthly_saving_usd"]
            .agg(["size", "sum"])
            .rename(columns={"size": "recommendations", "sum": "monthly_usd"})
            .reset_index()
        )
        return dg.MaterializeResult(
            metadata={
                "rows": len(rows),
                "estimated_monthly_saving_usd": float(
                    rows.loc[rows["impact_kind"] == "cost_saving", "estimated_monthly_saving_usd"].sum()
                ),
                "by_type": markdown_table(summary) if len(summary) else dg.MetadataValue.md("no recommendations"),
            }
        )

    return [cost_recommendations]
