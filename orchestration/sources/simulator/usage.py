"""LiteLLM spend logs: requests expanded from per-customer-day counts, vectorised, one random stream per day."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from orchestration.sources.schemas import MODEL_PRICES, MODEL_PROVIDERS

from .clock import US_PER_SECOND, Stream, rng
from .identity import HOUR_WEIGHTS
from .ids import random_uuids
from .world import World

MODELS = tuple(MODEL_PRICES)
MODEL_SHARE = np.array([0.12, 0.28, 0.06, 0.10, 0.04, 0.10, 0.08, 0.04, 0.08, 0.10])  # order of MODELS
PRICE_IN = np.array([MODEL_PRICES[m][0] for m in MODELS])
PRICE_OUT = np.array([MODEL_PRICES[m][1] for m in MODELS])
PROVIDERS = tuple(dict.fromkeys(MODEL_PROVIDERS.values()))
MODEL_PROVIDER = np.array([PROVIDERS.index(MODEL_PROVIDERS[m]) for m in MODELS])
EMBEDDING = MODELS.index("text-embedding-3-small")
EXPENSIVE = MODELS.index("claude-sonnet-4-5")
BASE_LATENCY_MS = np.array([900, 500, 1000, 600, 2500, 1400, 600, 1800, 500, 150], float)
MS_PER_OUTPUT_TOKEN = np.array([12, 6, 12, 7, 15, 14, 7, 14, 5, 0], float)
CALL_TYPES = ("acompletion", "aembedding", "aimage_generation", "atranscription", "aspeech")
CACHE_VALUES = ("True", "False", "None", "")
METADATA = ('{"environment": "production"}', '{"environment": "staging"}', "{}")
TAGS = ('["prod"]', "[]", '["batch"]')
WEEKDAY_HOURS = HOUR_WEIGHTS
FLUSH_DELAY_US = 10 * US_PER_SECOND
RUNAWAY_BUDGET_USD = (40.0, 250.0)  # what an injected runaway job costs (list price, before cache hits/failures)
RUNAWAY_MAX_REQUESTS = 20_000


MODEL_CDF = np.cumsum(MODEL_SHARE) / MODEL_SHARE.sum()
HOUR_CDF = np.cumsum(WEEKDAY_HOURS) / WEEKDAY_HOURS.sum()


def _pick(g: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """Categorical draws by inverse CDF (much faster than Generator.choice with p)."""
    return np.minimum(np.searchsorted(cdf, g.random(n), side="right"), cdf.size - 1)


def provider_share() -> np.ndarray:
    return np.bincount(MODEL_PROVIDER, weights=MODEL_SHARE, minlength=len(PROVIDERS))


def expand_usage(world: World, day: int) -> dict[str, np.ndarray | pa.Array]:
    """All requests started on `day` (plus re-delivered duplicates), with their arrival time at the source."""
    usage = world.usage_counts.get(day)
    if usage is None or usage.requests.sum() == 0:
        return {}
    g = rng(world.cfg.seed, day, Stream.USAGE_EXPAND)
    t0 = int(world.day_start(day))
    incident = world.incidents.get(day, {})
    n = int(usage.requests.sum())
    which = np.repeat(np.arange(usage.customers.size), usage.requests)
    cust = usage.customers[which]
    c = world.cust
    start = t0 + _pick(g, HOUR_CDF, n) * 3600 * US_PER_SECOND + g.integers(0, 3600 * US_PER_SECOND, n)
    model = _pick(g, MODEL_CDF, n)
    if incident.get("scope_kind") == "customer":
        model[cust == incident["customer"]] = EXPENSIVE
    kind_draw = g.random(n)
    call = np.where(
        model == EMBEDDING, 1, np.select([kind_draw < 0.02, kind_draw < 0.035, kind_draw < 0.045], [2, 3, 4], 0)
    )
    size = c["tokens_per_request"][cust] * np.exp(g.normal(-0.18, 0.6, n))
    prompt = np.round(size * 0.7).astype(np.int64)
    completion = np.where(call == 0, np.round(size * 0.3 * np.exp(g.normal(0, 0.5, n))), 0).astype(np.int64)
    prompt = np.where(call == 2, 60, np.where(call == 3, 0, np.where(call == 4, prompt // 4, prompt)))
    # failures: the customer's own error rate, plus provider-wide incidents
    p_fail = c["err_prone"][cust].copy()
    if incident.get("scope_kind") == "provider":
        p_fail[MODEL_PROVIDER[model] == PROVIDERS.index(incident["scope"])] += incident["error_boost"]
    failed = g.random(n) < p_fail
    completion[failed] = 0
    cache_draw = g.random(n)
    cache = np.where(failed | (call != 0), 1, np.where(cache_draw < 0.07, 0, 1))  # index into CACHE_VALUES
    cache = np.where(cache_draw > 0.985, np.where(cache_draw > 0.995, 3, 2), cache)  # missing values
    hit = cache == 0
    spend = np.where(hit, 0.0, prompt * PRICE_IN[model] + completion * PRICE_OUT[model])
    latency = (BASE_LATENCY_MS[model] + completion * MS_PER_OUTPUT_TOKEN[model]) * np.exp(g.normal(0, 0.35, n))
    if incident.get("scope_kind") == "model":
        latency[model == MODELS.index(incident["scope"])] *= incident["latency_factor"]
    latency = np.where(hit, g.integers(10, 60, n), np.where(failed, latency * g.uniform(0.05, 3, n), latency))
    duration_ms = np.maximum(latency, 1).astype(np.int64)
    end = start + duration_ms * 1000
    first_token = np.where((call == 0) & ~failed, start + (duration_ms * 1000 * 0.25).astype(np.int64), end)
    # who: one of the customer's users; end_user = billing customer ('' for a few rows)
    pick = usage.user_first[which] + (g.random(n) * usage.user_count[which]).astype(np.int64)
    has_user = usage.user_count[which] > 0
    user = np.where(
        has_user, usage.users[np.minimum(pick, max(usage.users.size - 1, 0))] if usage.users.size else -1, -1
    )
    end_user_missing = g.random(n) < 0.03
    # arrival at the source: batch flush ~10 s, some lag hours, a few up to 40 h
    delay_draw = g.random(n)
    delay = np.where(
        delay_draw < 0.001,
        g.integers(8 * 3600, 40 * 3600, n) * US_PER_SECOND,
        np.where(
            delay_draw < 0.011,
            g.integers(3600, 8 * 3600, n) * US_PER_SECOND,
            FLUSH_DELAY_US + g.integers(-5, 6, n) * US_PER_SECOND,
        ),
    )
    arrival = end + delay
    rows = {
        "cust": cust,
        "start": start,
        "end": end,
        "first_token": first_token,
        "duration_ms": duration_ms,
        "model": model,
        "call": call,
        "prompt": prompt,
        "completion": completion,
        "spend": spend,
        "failed": failed,
        "cache": cache,
        "user": user,
        "end_user_missing": end_user_missing,
        "meta": _pick(g, np.array([0.8, 0.9, 1.0]), n),
        "tags": _pick(g, np.array([0.7, 0.9, 1.0]), n),
        "arrival": arrival,
    }
    request_id = random_uuids(g, n)
    # cache keys exist for cache hits only: codes into ['', key of hit 1, key of hit 2, ...]; assigned before
    # duplication so that a re-delivered row is identical to its first delivery
    hits = rows["cache"] == 0
    rows["cache_key_code"] = np.where(hits, np.cumsum(hits), 0)
    # duplicate deliveries: the same row (same request_id) arrives a second time, later
    dup = np.flatnonzero(g.random(n) < world.cfg.duplicate_rate)
    out = {k: np.concatenate([v, v[dup]]) for k, v in rows.items()}
    out["arrival"][n:] += g.integers(30, 6 * 3600, dup.size) * US_PER_SECOND
    out["request_id"] = pa.concat_arrays([request_id, request_id.take(pa.array(dup))])
    out["cache_keys"] = pa.concat_arrays([pa.array([""]), random_uuids(g, int(hits.sum()))])
    for name in ("model", "call", "cache", "meta", "tags"):
        out[name] = out[name].astype(np.int8)
    return out


def incident_for_day(world: World, day: int) -> dict[str, object]:
    """Injected incidents: a provider-wide error spike, a model latency spike, one customer's cost spike."""
    g = rng(world.cfg.seed, day, Stream.INCIDENTS)
    if g.random() >= world.cfg.incident_rate or day < 7:
        return {}
    kind = int(g.integers(0, 3))
    date = world.cfg.start_date.toordinal() + day
    if kind == 0:
        provider = PROVIDERS[int(g.integers(0, len(PROVIDERS)))]
        boost = float(g.uniform(0.15, 0.4))
        return {
            "day": date,
            "scope_kind": "provider",
            "scope": provider,
            "metric": "error_rate",
            "error_boost": boost,
            "description": f"{provider} outage: error rate +{boost:.0%}",
        }
    if kind == 1:
        model = MODELS[int(g.integers(0, len(MODELS) - 1))]
        factor = float(g.uniform(3, 6))
        return {
            "day": date,
            "scope_kind": "model",
            "scope": model,
            "metric": "latency",
            "latency_factor": factor,
            "description": f"{model} latency x{factor:.1f}",
        }
    # a runaway job (a retry loop, a batch run twice) on an active customer: thousands of extra requests on the most
    # expensive model, costing tens to hundreds of USD in a day, several times the platform's usual daily AI cost
    c = world.cust
    paying = np.flatnonzero(c["state"] == 2)
    active = paying[c["tokens_ewma"][paying] >= np.median(c["tokens_ewma"][paying])] if paying.size else paying
    if active.size == 0:
        return {}
    customer = int(active[int(g.integers(0, active.size))])
    budget_usd = float(g.uniform(*RUNAWAY_BUDGET_USD))
    per_request = c["tokens_per_request"][customer] * (0.7 * PRICE_IN[EXPENSIVE] + 0.3 * PRICE_OUT[EXPENSIVE])
    extra = int(min(budget_usd / per_request, RUNAWAY_MAX_REQUESTS))
    return {
        "day": date,
        "scope_kind": "customer",
        "scope": "",
        "customer": customer,
        "extra_requests": extra,
        "metric": "cost",
        "description": f"one customer's runaway job: +{extra} requests on claude-sonnet-4-5 (about ${budget_usd:.0f})",
    }
