"""Cost and plan recommendations computed from usage aggregates, each with a monthly USD estimate and its evidence.

Every function takes aggregate frames (SQL does the heavy lifting) covering a window of `window_days` days and
returns rows in RECOMMENDATION_COLUMNS; monthly figures scale the window to 30 days. `estimated_monthly_saving_usd`
is a cost saving for usage recommendations, and for plan right-sizing the monthly MRR at stake (`impact_kind`
says which). Prices come in as a table (model, provider, input_cost_per_token, output_cost_per_token): this module
does not know any vendor's price list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np
import pandas as pd

MODEL_VERSION = "recommendations-1"
RECOMMENDATION_COLUMNS = [
    "recommendation_type",
    "scope",
    "customer_external_id",
    "estimated_monthly_saving_usd",
    "impact_kind",
    "priority",
    "evidence",
    "model_version",
]
DAYS_PER_MONTH = 30.0


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str, numeric: Iterable[str] = ()) -> pd.DataFrame:
    """Check the columns exist; return a copy with the `numeric` ones as float (Decimal from NUMERIC columns)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks columns {missing}")
    out = frame.copy()
    for column in numeric:
        converted = pd.to_numeric(out[column].astype(object), errors="coerce").astype(float)
        bad = converted.isna() & out[column].notna()
        if bad.any():
            raise ValueError(f"{what} frame: column {column!r} is not numeric at row {out.index[bad][0]!r}")
        out[column] = converted
    return out


def _priority(saving: float) -> str:
    return "high" if saving >= 500 else "medium" if saving >= 50 else "low"


def _row(kind: str, scope: str, customer: object, saving: float, impact: str, evidence: dict) -> dict:
    return {
        "recommendation_type": kind,
        "scope": scope,
        "customer_external_id": None if customer is None or pd.isna(customer) else customer,
        "estimated_monthly_saving_usd": round(float(saving), 2),
        "impact_kind": impact,
        "priority": _priority(saving),
        "evidence": json.dumps(evidence, default=_json_default, sort_keys=True),
        "model_version": MODEL_VERSION,
    }


def _json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return round(float(value), 6)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=RECOMMENDATION_COLUMNS)


def cheaper_model_for_short_prompts(
    usage: pd.DataFrame, prices: pd.DataFrame, window_days: float, min_monthly_saving: float = 10.0
) -> pd.DataFrame:
    """Move short-prompt traffic to the cheapest chat model of the same provider.

    usage: customer_external_id, model, requests, prompt_tokens, completion_tokens, cost_usd — short-prompt
    traffic only (the caller chooses the prompt-size cut-off). Embedding models (output price 0) are never targets.
    Saving = cost now - the same tokens at the cheaper model's list prices.
    """
    usage_columns = ["customer_external_id", "model", "requests", "prompt_tokens", "completion_tokens", "cost_usd"]
    usage = _require(usage, usage_columns, "usage", numeric=usage_columns[2:])
    price_columns = ["model", "provider", "input_cost_per_token", "output_cost_per_token"]
    prices = _require(prices, price_columns, "prices", numeric=price_columns[2:])
    price = prices.set_index("model")
    chat = prices[prices["output_cost_per_token"] > 0].copy()
    chat["blended"] = chat["input_cost_per_token"] + chat["output_cost_per_token"]
    rows = []
    for record in usage.itertuples(index=False):
        if record.model not in price.index:
            continue
        current = price.loc[record.model]
        if current["output_cost_per_token"] <= 0:
            continue
        options = chat[(chat["provider"] == current["provider"]) & (chat["model"] != record.model)]
        if options.empty:
            continue
        target = (
            options.assign(
                cost=options["input_cost_per_token"] * record.prompt_tokens
                + options["output_cost_per_token"] * record.completion_tokens
            )
            .sort_values("cost")
            .iloc[0]
        )
        saving = (record.cost_usd - target["cost"]) * DAYS_PER_MONTH / window_days
        if saving < min_monthly_saving:
            continue
        rows.append(
            _row(
                "cheaper_model_short_prompts",
                f"model:{record.model}",
                record.customer_external_id,
                saving,
                "cost_saving",
                {
                    "window_days": window_days,
                    "current_model": record.model,
                    "suggested_model": target["model"],
                    "provider": current["provider"],
                    "short_prompt_requests": record.requests,
                    "prompt_tokens": record.prompt_tokens,
                    "completion_tokens": record.completion_tokens,
                    "cost_in_window_usd": record.cost_usd,
                    "cost_at_suggested_model_usd": target["cost"],
                },
            )
        )
    return _frame(rows)


def enable_caching(
    cache_keys: pd.DataFrame,
    window_days: float,
    min_repeats: int = 3,
    max_hit_rate: float = 0.5,
    min_monthly_saving: float = 10.0,
) -> pd.DataFrame:
    """Repeated requests (same cache key) that the cache rarely serves: saving = avoidable misses x cost per miss.

    cache_keys: customer_external_id, model, cache_key, requests, cache_hits, cost_usd (spend of those requests;
    hits are assumed to cost ~0). Per customer and model over keys seen >= min_repeats times with a low hit rate.
    """
    key_columns = ["customer_external_id", "model", "cache_key", "requests", "cache_hits", "cost_usd"]
    cache_keys = _require(cache_keys, key_columns, "cache keys", numeric=key_columns[3:])
    keys = cache_keys[cache_keys["requests"] >= min_repeats].copy()
    keys = keys[keys["cache_hits"] / keys["requests"] <= max_hit_rate]
    misses = keys["requests"] - keys["cache_hits"]
    keys["cost_per_miss"] = keys["cost_usd"] / misses.where(misses > 0)
    # with a working cache only the first request of each key would be a miss
    keys["avoidable_misses"] = (misses - 1).clip(lower=0)
    keys["avoidable_cost"] = keys["avoidable_misses"] * keys["cost_per_miss"].fillna(0)
    rows = []
    for (customer, model), group in keys.groupby(["customer_external_id", "model"], sort=True, dropna=False):
        saving = group["avoidable_cost"].sum() * DAYS_PER_MONTH / window_days
        if saving < min_monthly_saving:
            continue
        rows.append(
            _row(
                "enable_caching",
                f"model:{model}",
                customer,
                saving,
                "cost_saving",
                {
                    "window_days": window_days,
                    "repeated_keys": len(group),
                    "requests": group["requests"].sum(),
                    "cache_hits": group["cache_hits"].sum(),
                    "hit_rate": group["cache_hits"].sum() / group["requests"].sum(),
                    "avoidable_misses": group["avoidable_misses"].sum(),
                    "top_keys": group.nlargest(3, "avoidable_cost")["cache_key"].astype(str).tolist(),
                },
            )
        )
    return _frame(rows)


def plan_right_sizing(
    quota_use: pd.DataFrame,
    plans: pd.DataFrame,
    months: int = 3,
    over_quota: float = 1.0,
    under_quota: float = 0.3,
) -> pd.DataFrame:
    """Persistently over quota -> upgrade offer; persistently far under -> downgrade risk.

    quota_use: customer_external_id, month, plan_tier, quota_use (tokens used / included), mrr — one row per
    customer-month. plans: plan_tier, tier_rank (1 = smallest), monthly_price. 'Persistently' = each of the last
    `months` months of the customer. Impact: MRR gained by the next tier up (revenue_opportunity) or MRR lost if
    the customer moves one tier down (revenue_at_risk).
    """
    quota_use = _require(
        quota_use, ["customer_external_id", "month", "plan_tier", "quota_use", "mrr"], "quota use", ["quota_use", "mrr"]
    )
    plans = _require(plans, ["plan_tier", "tier_rank", "monthly_price"], "plans", ["tier_rank", "monthly_price"])
    ranked = plans.sort_values("tier_rank").reset_index(drop=True)
    position = {tier: i for i, tier in enumerate(ranked["plan_tier"])}
    rows = []
    ordered = quota_use.sort_values(["customer_external_id", "month"])
    for customer, history in ordered.groupby("customer_external_id", sort=True):
        recent = history.tail(months)
        if len(recent) < months or recent["plan_tier"].nunique() != 1:
            continue
        tier = recent["plan_tier"].iloc[-1]
        if tier not in position:
            continue
        i = position[tier]
        use = recent["quota_use"].to_numpy(dtype=float)
        mrr = float(recent["mrr"].iloc[-1])
        evidence = {
            "plan_tier": tier,
            "months": [str(m) for m in recent["month"]],
            "quota_use": [round(u, 3) for u in use],
            "mrr": mrr,
        }
        if np.all(use > over_quota) and i + 1 < len(ranked):
            target = ranked.iloc[i + 1]
            gain = max(float(target["monthly_price"]) - mrr, 0.0)
            evidence |= {"suggested_tier": target["plan_tier"], "suggested_price": float(target["monthly_price"])}
            rows.append(_row("plan_upgrade_offer", f"plan:{tier}", customer, gain, "revenue_opportunity", evidence))
        elif np.all(use < under_quota) and i > 0:
            target = ranked.iloc[i - 1]
            loss = max(mrr - float(target["monthly_price"]), 0.0)
            evidence |= {"likely_tier": target["plan_tier"], "likely_price": float(target["monthly_price"])}
            rows.append(_row("plan_downgrade_risk", f"plan:{tier}", customer, loss, "revenue_at_risk", evidence))
    return _frame(rows)


def error_hot_spots(
    errors: pd.DataFrame,
    window_days: float,
    min_failed: int = 50,
    rate_multiple: float = 3.0,
    min_error_rate: float = 0.05,
    min_monthly_saving: float = 5.0,
) -> pd.DataFrame:
    """Customer x model (or service) pairs whose error rate is far above the overall rate and whose failures cost.

    errors: customer_external_id, scope (e.g. 'model:gpt-4o' or 'service:chat'), requests, failed_requests,
    cost_usd, and optionally failed_cost_usd (spend on failed calls); without it, failed calls are priced at the
    pair's average cost per request, since each failure is retried and paid again.
    """
    numeric = ["requests", "failed_requests", "cost_usd", *(["failed_cost_usd"] if "failed_cost_usd" in errors else [])]
    errors = _require(errors, ["customer_external_id", "scope", *numeric], "errors", numeric)
    overall = errors["failed_requests"].sum() / max(errors["requests"].sum(), 1)
    threshold = max(rate_multiple * overall, min_error_rate)
    frame = errors
    frame["error_rate"] = frame["failed_requests"] / frame["requests"].where(frame["requests"] > 0)
    if "failed_cost_usd" in frame.columns:
        frame["wasted"] = frame["failed_cost_usd"].fillna(0.0)
    else:
        frame["wasted"] = frame["failed_requests"] * frame["cost_usd"] / frame["requests"].where(frame["requests"] > 0)
    hot = frame[(frame["failed_requests"] >= min_failed) & (frame["error_rate"] >= threshold)]
    rows = []
    for record in hot.itertuples(index=False):
        saving = float(record.wasted) * DAYS_PER_MONTH / window_days
        if saving < min_monthly_saving:
            continue
        rows.append(
            _row(
                "error_hot_spot",
                str(record.scope),
                record.customer_external_id,
                saving,
                "cost_saving",
                {
                    "window_days": window_days,
                    "requests": record.requests,
                    "failed_requests": record.failed_requests,
                    "error_rate": record.error_rate,
                    "overall_error_rate": overall,
                    "wasted_cost_in_window_usd": record.wasted,
                },
            )
        )
    return _frame(rows)


def off_peak_embeddings(
    hourly: pd.DataFrame,
    window_days: float,
    peak_hours: Iterable[int] = range(8, 20),
    off_peak_discount: float = 0.5,
    min_monthly_saving: float = 10.0,
) -> pd.DataFrame:
    """Shift batch embedding traffic from peak hours to an off-peak/batch tier priced `off_peak_discount` lower.

    hourly: customer_external_id, hour (0-23, UTC), requests, cost_usd — embedding traffic only, summed over the
    window. Saving = peak-hour embedding spend x discount.
    """
    hourly = _require(
        hourly,
        ["customer_external_id", "hour", "requests", "cost_usd"],
        "hourly embedding traffic",
        ["requests", "cost_usd"],
    )
    peak = set(peak_hours)
    frame = hourly.assign(is_peak=hourly["hour"].isin(peak))
    rows = []
    for customer, group in frame.groupby("customer_external_id", sort=True, dropna=False):
        peak_cost = group.loc[group["is_peak"], "cost_usd"].sum()
        saving = peak_cost * off_peak_discount * DAYS_PER_MONTH / window_days
        if saving < min_monthly_saving:
            continue
        rows.append(
            _row(
                "off_peak_embeddings",
                "service:embeddings",
                customer,
                saving,
                "cost_saving",
                {
                    "window_days": window_days,
                    "peak_hours_utc": sorted(peak),
                    "peak_requests": group.loc[group["is_peak"], "requests"].sum(),
                    "peak_cost_in_window_usd": peak_cost,
                    "peak_share_of_cost": peak_cost / max(group["cost_usd"].sum(), 1e-12),
                    "off_peak_discount": off_peak_discount,
                },
            )
        )
    return _frame(rows)


def combine(*frames: pd.DataFrame) -> pd.DataFrame:
    """All recommendations, largest monthly amount first (the ml.cost_recommendations shape)."""
    parts = [f for f in frames if f is not None and not f.empty]
    if not parts:
        return _frame([])
    combined = pd.concat(parts, ignore_index=True)
    return combined.sort_values(
        ["estimated_monthly_saving_usd", "recommendation_type"], ascending=[False, True]
    ).reset_index(drop=True)
