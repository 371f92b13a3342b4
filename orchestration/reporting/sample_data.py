"""Deterministic, coherent fake report inputs (tests, previews, the bench script).

The monthly frames come from a small simulated customer base (MRR per customer and month, one FX
currency), and every mart is derived from it with the METRICS.md definitions, so the movement identity,
ARR = 12 x MRR, NRR/GRR and cohort figures agree with each other exactly as the real marts must.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from orchestration.reporting.specs import (
    ChurnRiskData,
    MonthlyReviewData,
    WeeklyUsageData,
    add_months,
    iso_week_bounds,
    month_start,
)

TIERS = {"starter": 49.0, "pro": 199.0, "business": 799.0, "enterprise": 2490.0}
TIER_WEIGHTS = [0.45, 0.33, 0.17, 0.05]
NAME_FIRST = [
    "Northwind",
    "Bluefjord",
    "Quillfeather",
    "Ironbark",
    "Saltmarsh",
    "Copperleaf",
    "Brightwater",
    "Halcyon",
    "Juniper",
    "Kestrel",
    "Larkspur",
    "Moonrake",
    "Oakhollow",
    "Pinecrest",
    "Redwing",
    "Silverline",
    "Thistle",
    "Umberfield",
    "Wavecrest",
    "Yarrow",
]
NAME_SECOND = [
    "Analytics",
    "Robotics",
    "Logistics",
    "Health",
    "Foods",
    "Labs",
    "Finance",
    "Studios",
    "Energy",
    "Systems",
    "Outfitters",
    "Legal",
    "Media",
    "Biotech",
    "Freight",
    "Dental",
    "Learning",
    "Realty",
    "Games",
    "Insurance",
]
DRIVERS = [
    "usage down {n}% vs 3-month average",
    "{k} failed payments in 60 days",
    "seats reduced last month",
    "low stickiness (DAU/MAU {n}%)",
    "error rate {n}% on chat-api",
    "no login by admins in {k} weeks",
    "plan over quota for {k} months",
    "support tickets up {n}%",
    "short tenure",
]
SERVICE_MODELS = [
    ("chat-api", "gpt-4o", 0.0060),
    ("chat-api", "gpt-4o-mini", 0.0004),
    ("chat-api", "claude-3-5-sonnet", 0.0070),
    ("embeddings", "text-embedding-3-small", 0.00002),
    ("summarizer", "gpt-4o-mini", 0.0004),
    ("summarizer", "claude-3-haiku", 0.0009),
]
MODEL_SHARES = np.array([0.38, 0.09, 0.27, 0.03, 0.08, 0.15])


@dataclass(frozen=True)
class _Company:
    months: list[dt.date]
    customers: pd.DataFrame  # customer_id, customer_name, tier, billing_interval, currency, first_month
    local_mrr: np.ndarray  # customers x months, billing currency
    fx: np.ndarray  # customers x months, rate to the reporting currency

    @property
    def mrr(self) -> np.ndarray:
        return self.local_mrr * self.fx


def _customer_names(n: int) -> list[str]:
    names = [f"{NAME_FIRST[i % len(NAME_FIRST)]} {NAME_SECOND[(i * 7 + i // 20) % len(NAME_SECOND)]}" for i in range(n)]
    return [name if i < 400 else f"{name} {i // 400 + 1}" for i, name in enumerate(names)]


def _simulate_company(period: str, n_customers: int, seed: int) -> _Company:
    rng = np.random.default_rng(seed)
    last = month_start(period)
    months = [add_months(last, k) for k in range(-35, 2)]  # 36 closed months + the open month after the period
    n_months = len(months)
    # Acquisition accelerates over time, so the business grows.
    weights = np.linspace(1.0, 2.2, n_months - 1)
    first = np.sort(rng.choice(n_months - 1, size=n_customers, p=weights / weights.sum()))
    tier = rng.choice(list(TIERS), size=n_customers, p=TIER_WEIGHTS)
    yearly = rng.random(n_customers) < 0.25
    currency = np.where(rng.random(n_customers) < 0.2, "EUR", "USD")
    base = np.array([TIERS[t] for t in tier]) * np.where(yearly, 0.85, 1.0) * rng.choice([1, 1, 1, 2, 3], n_customers)
    local = np.zeros((n_customers, n_months))
    churn_p = np.where(tier == "starter", 0.032, np.where(tier == "enterprise", 0.008, 0.018))
    last_positive = np.zeros(n_customers)
    for t in range(n_months):
        prev = local[:, t - 1] if t else np.zeros(n_customers)
        draw = rng.random(n_customers)
        change = rng.random(n_customers)
        current = prev.copy()
        active = prev > 0
        current[active & (draw < churn_p)] = 0.0
        expand = active & (draw >= churn_p) & (change < 0.035)
        current[expand] = np.round(prev[expand] * rng.choice([1.25, 1.5, 2.0], expand.sum()), 2)
        contract = active & (draw >= churn_p) & (change > 0.985)
        current[contract] = np.round(prev[contract] * 0.7, 2)
        reactivate = ~active & (last_positive > 0) & (first < t) & (draw < 0.03)
        current[reactivate] = last_positive[reactivate]
        starting = first == t
        current[starting] = np.round(base[starting], 2)
        local[:, t] = current
        last_positive = np.where(current > 0, current, last_positive)
    eur_rate = np.round(1.08 + 0.05 * np.sin(np.arange(n_months) / 4.0), 4)
    fx = np.where((currency == "EUR")[:, None], eur_rate[None, :], 1.0)
    customers = pd.DataFrame(
        {
            "customer_id": [f"cus_{i + 1:04d}" for i in range(n_customers)],
            "customer_name": _customer_names(n_customers),
            "tier": tier,
            "billing_interval": np.where(yearly, "yearly", "monthly"),
            "currency": currency,
            "first_month": first,
        }
    )
    return _Company(months=months, customers=customers, local_mrr=local, fx=fx)


def _movements(company: _Company) -> pd.DataFrame:
    mrr, local, fx = company.mrr, company.local_mrr, company.fx
    rows = []
    ever = np.zeros(mrr.shape[0], dtype=bool)
    for t, month in enumerate(company.months):
        prev_local = local[:, t - 1] if t else np.zeros(mrr.shape[0])
        prev_fx = fx[:, t - 1] if t else fx[:, 0]
        p = prev_local * fx[:, t]  # constant currency: last month's MRR at this month's rate
        c = mrr[:, t]
        new = (prev_local == 0) & (c > 0) & ~ever
        react = (prev_local == 0) & (c > 0) & ever
        expansion = (prev_local > 0) & (c > p)
        contraction = (prev_local > 0) & (c > 0) & (c < p)
        churn = (prev_local > 0) & (c == 0)
        rows.append(
            {
                "month": month,
                "starting_mrr": float((prev_local * prev_fx).sum()),
                "new_mrr": float(c[new].sum()),
                "reactivation_mrr": float(c[react].sum()),
                "expansion_mrr": float((c - p)[expansion].sum()),
                "contraction_mrr": float((c - p)[contraction].sum()),
                "churned_mrr": float(-p[churn].sum()),
                "fx_adjustment": float((prev_local * (fx[:, t] - prev_fx)).sum()),
                "ending_mrr": float(c.sum()),
                "_new_customers": int(new.sum()),
                "_churned_customers": int(churn.sum()),
                "_paying_before": int((prev_local > 0).sum()),
            }
        )
        ever |= c > 0
    return pd.DataFrame(rows)


def _trailing_retention(mrr: np.ndarray, t: int) -> tuple[float, float]:
    if t < 12:
        return float("nan"), float("nan")
    base = mrr[:, t - 12] > 0
    then, now = mrr[base, t - 12], mrr[base, t]
    return float(now.sum() / then.sum()), float(np.minimum(now, then).sum() / then.sum())


def _kpis(company: _Company, movements: pd.DataFrame, period_index: int, rng: np.random.Generator) -> pd.DataFrame:
    mrr = company.mrr
    rows = []
    for t, month in enumerate(company.months):
        m = movements.iloc[t]
        total = float(mrr[:, t].sum())
        paying = int((mrr[:, t] > 0).sum())
        nrr, grr = _trailing_retention(mrr, t)
        losses = -(m.churned_mrr + m.contraction_mrr)
        gains = m.new_mrr + m.reactivation_mrr + m.expansion_mrr
        mau = int(paying * rng.uniform(5.5, 6.5))
        usage_cost = round(total * rng.uniform(0.14, 0.19), 2)
        usage_revenue = total * 0.08
        rows.append(
            {
                "month": month,
                "mrr": total,
                "arr": total * 12,
                "paying_customers": paying,
                "new_customers": int(m._new_customers),
                "logo_churn_rate": m._churned_customers / m._paying_before if m._paying_before else np.nan,
                "nrr": nrr,
                "grr": grr,
                "arpa": total / paying if paying else np.nan,
                "quick_ratio": gains / losses if losses else np.nan,
                "mau": mau,
                "avg_stickiness": round(rng.uniform(0.22, 0.34), 4),
                "usage_cost": usage_cost,
                "gross_margin_pct": round(100 * (total + usage_revenue - usage_cost) / (total + usage_revenue), 2),
                "cost_per_active_user": usage_cost / mau if mau else np.nan,
                "is_closed_month": t <= period_index,
            }
        )
    kpi = pd.DataFrame(rows)
    avg_churn = kpi["logo_churn_rate"].rolling(6, min_periods=6).mean()
    kpi["ltv_simple"] = (kpi["arpa"] * kpi["gross_margin_pct"] / 100 / avg_churn).where(avg_churn > 0)
    return kpi


def _plan_mix(company: _Company) -> pd.DataFrame:
    mrr = company.mrr
    rows = []
    for t, month in enumerate(company.months):
        total = mrr[:, t].sum()
        for (tier, interval), idx in company.customers.groupby(["tier", "billing_interval"]).groups.items():
            values = mrr[np.asarray(idx), t]
            paying = int((values > 0).sum())
            rows.append(
                {
                    "month": month,
                    "tier": tier,
                    "billing_interval": interval,
                    "mrr": float(values.sum()),
                    "paying_customers": paying,
                    "arpa": float(values.sum() / paying) if paying else np.nan,
                    "share_of_mrr": float(values.sum() / total) if total else np.nan,
                }
            )
    return pd.DataFrame(rows)


def _cohorts(company: _Company, period_index: int) -> pd.DataFrame:
    mrr = company.mrr
    first_paid = np.argmax(mrr > 0, axis=1)
    rows = []
    for cohort in range(period_index + 1):
        members = np.flatnonzero((first_paid == cohort) & (mrr[:, cohort] > 0))
        if not len(members):
            continue
        start = mrr[members, cohort]
        for k in range(period_index - cohort + 1):
            now = mrr[members, cohort + k]
            rows.append(
                {
                    "cohort_month": company.months[cohort],
                    "months_since_start": k,
                    "cohort_size": len(members),
                    "logo_retention": float((now > 0).mean()),
                    "net_revenue_retention": float(now.sum() / start.sum()),
                    "gross_revenue_retention": float(np.minimum(now, start).sum() / start.sum()),
                }
            )
    return pd.DataFrame(rows)


def _billing(company: _Company, kpi: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    mrr = company.mrr
    yearly = (company.customers["billing_interval"] == "yearly").to_numpy()
    first = company.customers["first_month"].to_numpy()
    rows, previous = [], 0.0
    for t, month in enumerate(company.months):
        anniversary = yearly & ((t - first) % 12 == 0)
        billings = float(mrr[~yearly, t].sum() + 12 * mrr[anniversary, t].sum())
        collections = round(0.9 * billings + 0.08 * previous, 2)
        rows.append(
            {
                "month": month,
                "billings_reporting": round(billings, 2),
                "collections_reporting": collections,
                "refunds_reporting": round(billings * rng.uniform(0.002, 0.008), 2),
                "failed_payment_attempts": int(rng.poisson(max(kpi.loc[t, "paying_customers"], 1) * 0.04)),
            }
        )
        previous = billings
    return pd.DataFrame(rows)


def _forecast(series: str, last_month: dt.date, last_value: float, growth: float, spread: float) -> pd.DataFrame:
    horizon = np.arange(1, 13)
    mean = last_value * (1 + growth) ** horizon
    sd = last_value * spread * np.sqrt(horizon)
    return pd.DataFrame(
        {
            "series": series,
            "month": [add_months(last_month, int(h)) for h in horizon],
            "mean": mean,
            "lo_80": mean - 1.2816 * sd,
            "hi_80": mean + 1.2816 * sd,
            "lo_95": mean - 1.96 * sd,
            "hi_95": mean + 1.96 * sd,
            "model": "ets_additive_damped",
        }
    )


def _predictions(company: _Company, t: int, rng: np.random.Generator) -> pd.DataFrame:
    mrr = company.mrr[:, t]
    paying = np.flatnonzero(mrr > 0)
    probability = np.round(rng.beta(1.3, 5.5, len(paying)), 4)
    band = np.where(probability >= 0.5, "high", np.where(probability >= 0.25, "medium", "low"))
    month = company.months[t]
    month_end = add_months(month, 1) - dt.timedelta(days=1)
    drivers = []
    for _ in paying:
        picks = rng.choice(len(DRIVERS), size=3, replace=False)
        drivers.append(
            "; ".join(DRIVERS[p].format(n=int(rng.integers(4, 60)), k=int(rng.integers(2, 5))) for p in picks)
        )
    customers = company.customers.iloc[paying]
    return pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy(),
            "customer_name": customers["customer_name"].to_numpy(),
            "snapshot_month": month,
            "churn_probability": probability,
            "risk_band": band,
            "mrr_at_risk": np.round(probability * mrr[paying], 2),
            "top_drivers": drivers,
            "tier": customers["tier"].to_numpy(),
            "tenure_months": t - customers["first_month"].to_numpy(),
            "last_active_day": [month_end - dt.timedelta(days=int(d)) for d in rng.integers(0, 45, len(paying))],
            "scored_retrospectively": False,
        }
    )


def _alerts(days: list[dt.date], rng: np.random.Generator) -> pd.DataFrame:
    specs = [
        ("usage_cost", "service=chat-api", 1840.0, 1100.0, 1600.0, "high", "Daily cost above the expected range"),
        ("error_rate", "service=summarizer", 0.061, 0.005, 0.03, "medium", "Error rate doubled after a deploy"),
        ("logo_churn_rate", "tier=starter", 0.048, 0.015, 0.04, "medium", "Starter churn above its band"),
        ("new_customers", "channel=paid_search", 3.0, 6.0, 14.0, "low", "Fewer new customers than expected"),
    ]
    return pd.DataFrame(
        [
            {
                "day": days[i % len(days)],
                "metric": m,
                "scope": s,
                "value": v,
                "expected_low": lo,
                "expected_high": hi,
                "severity": sev,
                "message": msg,
            }
            for i, (m, s, v, lo, hi, sev, msg) in enumerate(specs)
        ]
    )


def sample_monthly_review(period: str = "2026-10", n_customers: int = 400, seed: int = 7) -> MonthlyReviewData:
    rng = np.random.default_rng(seed + 1)
    company = _simulate_company(period, n_customers, seed)
    period_index = company.months.index(month_start(period))
    movements = _movements(company)
    kpi = _kpis(company, movements, period_index, rng)
    retention = kpi.loc[kpi["nrr"].notna(), ["month", "nrr", "grr"]].reset_index(drop=True)
    growth = float((kpi.loc[period_index, "mrr"] / kpi.loc[period_index - 6, "mrr"]) ** (1 / 6) - 1)
    month_days = [month_start(period) + dt.timedelta(days=d) for d in (3, 11, 19, 27)]
    return MonthlyReviewData(
        period=period,
        kpi_monthly=kpi,
        mrr_movements=movements.drop(columns=[c for c in movements.columns if c.startswith("_")]),
        mrr_by_plan=_plan_mix(company),
        retention_trailing_12m=retention,
        cohort_retention=_cohorts(company, period_index),
        billing_monthly=_billing(company, kpi, rng),
        mrr_forecast=_forecast("mrr", month_start(period), float(kpi.loc[period_index, "mrr"]), growth, 0.012),
        churn_predictions=_predictions(company, period_index, rng),
        metric_alerts=_alerts(month_days, rng),
    )


def sample_churn_risk(period: str = "2026-W43", n_customers: int = 400, seed: int = 7) -> ChurnRiskData:
    monday, _ = iso_week_bounds(period)
    snapshot = add_months(dt.date(monday.year, monday.month, 1), -1)  # last closed month before the week
    company = _simulate_company(snapshot.strftime("%Y-%m"), n_customers, seed)
    predictions = _predictions(company, company.months.index(snapshot), np.random.default_rng(seed + 2))
    return ChurnRiskData(period=period, churn_predictions=predictions)


def sample_weekly_usage(period: str = "2026-W43", seed: int = 7) -> WeeklyUsageData:
    rng = np.random.default_rng(seed + 3)
    monday, sunday = iso_week_bounds(period)
    days = [sunday - dt.timedelta(days=d) for d in range(83, -1, -1)]  # 12 weeks
    trend = np.linspace(1.0, 1.25, len(days))
    weekday = np.array([1.0 if d.weekday() < 5 else 0.55 for d in days])
    cost = np.round(1300 * trend * weekday * rng.uniform(0.92, 1.08, len(days)), 2)
    cost_daily = pd.DataFrame({"day": days, "cost_usd": cost})
    this_week = float(cost[-7:].sum())
    last_week = float(cost[-14:-7].sum())
    prev_shares = MODEL_SHARES * rng.uniform(0.85, 1.15, len(MODEL_SHARES))
    prev_shares /= prev_shares.sum()
    usage_rows = []
    for (service, model, price), share, prev_share in zip(SERVICE_MODELS, MODEL_SHARES, prev_shares, strict=True):
        cost_now, cost_prev = round(this_week * share, 2), round(last_week * prev_share, 2)
        tokens_now, tokens_prev = int(cost_now / price * 1000), int(cost_prev / price * 1000)
        per_request = int(rng.integers(300, 2500))
        usage_rows.append(
            {
                "service": service,
                "model": model,
                "requests": tokens_now // per_request,
                "total_tokens": tokens_now,
                "cost_usd": cost_now,
                "requests_prev_week": tokens_prev // per_request,
                "total_tokens_prev_week": tokens_prev,
                "cost_usd_prev_week": cost_prev,
            }
        )
    # The month containing the week's end is open: its forecast is the one made at the previous month end.
    month = dt.date(sunday.year, sunday.month, 1)
    monthly_cost = float(cost[-30:].sum())
    cost_forecast = _forecast("usage_cost", add_months(month, -1), monthly_cost, 0.02, 0.04)
    n = 150
    tier = rng.choice(list(TIERS), size=n, p=TIER_WEIGHTS)
    mrr = np.array([TIERS[t] for t in tier]) * rng.choice([1, 1, 2, 3], n)
    usage_revenue = np.round(mrr * rng.uniform(0.0, 0.2, n), 2)
    usage_cost = np.round(mrr * rng.lognormal(-1.8, 0.9, n), 2)
    margin = mrr + usage_revenue - usage_cost
    customer_margin = pd.DataFrame(
        {
            "customer_id": [f"cus_{i + 1:04d}" for i in range(n)],
            "month": month,
            "mrr": mrr,
            "usage_revenue": usage_revenue,
            "usage_cost": usage_cost,
            "gross_margin": np.round(margin, 2),
            "margin_pct": np.round(100 * margin / (mrr + usage_revenue), 2),
        }
    )
    perf_rows = []
    for service, base_latency in (("chat-api", 820.0), ("embeddings", 95.0), ("summarizer", 1450.0)):
        for offset in range(13, -1, -1):
            day = sunday - dt.timedelta(days=offset)
            p50 = base_latency * rng.uniform(0.9, 1.1)
            perf_rows.append(
                {
                    "day": day,
                    "service": service,
                    "requests": int(rng.integers(20_000, 90_000)),
                    "error_rate": round(
                        float(rng.uniform(0.002, 0.02) * (3 if service == "summarizer" and offset < 3 else 1)), 5
                    ),
                    "latency_p50_ms": round(p50, 1),
                    "latency_p95_ms": round(p50 * rng.uniform(2.0, 2.6), 1),
                    "latency_p99_ms": round(p50 * rng.uniform(3.2, 4.5), 1),
                }
            )
    recommendations = pd.DataFrame(
        [
            {
                "recommendation_type": "model_downgrade",
                "scope": "customer",
                "customer_id": "cus_0042",
                "estimated_monthly_saving_usd": 1240.5,
                "evidence": "92% of gpt-4o requests under 400 tokens; gpt-4o-mini matched quality on sampled prompts",
            },
            {
                "recommendation_type": "enable_cache",
                "scope": "service=summarizer",
                "customer_id": None,
                "estimated_monthly_saving_usd": 860.0,
                "evidence": "31% of prompts repeat within 24 h; cache hit rate today 4%",
            },
            {
                "recommendation_type": "rate_limit",
                "scope": "customer",
                "customer_id": "cus_0117",
                "estimated_monthly_saving_usd": 415.25,
                "evidence": "Retry storms: 18% of requests are retries within 2 s of a failure",
            },
            {
                "recommendation_type": "plan_upgrade",
                "scope": "customer",
                "customer_id": "cus_0009",
                "estimated_monthly_saving_usd": 0.0,
                "evidence": "Usage 4.1x the plan quota for 3 months; negative margin",
            },
        ]
    )
    return WeeklyUsageData(
        period=period,
        usage_by_model=pd.DataFrame(usage_rows),
        cost_daily=cost_daily,
        cost_forecast=cost_forecast,
        customer_margin=customer_margin,
        service_performance=pd.DataFrame(perf_rows),
        metric_alerts=_alerts([monday + dt.timedelta(days=d) for d in (1, 2, 4, 5)], rng),
        cost_recommendations=recommendations,
    )
