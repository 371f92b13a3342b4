"""Retention asset: per plan tier an sBG fit on monthly cohort survival from marts.fct_mrr, projected survival,
DERL at the configured discount rate and projected LTV beside the simple LTV (ml.ltv_projection)."""

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

# Deferred: only executing the assets needs them (orchestration/lazy.py), hence the quoted annotations.
np = lazy_module("numpy")
pd = lazy_module("pandas")
retention = lazy_module("models_ml.retention")

ECONOMICS_MONTHS = 6  # ARPA is the last closed month's; margin and churn average the last 6 closed months
BACKTEST_FIT_PERIODS = 6
LTV_TABLE = "ltv_projection"


def _months_between(later: "pd.Series", earlier: "pd.Series") -> "pd.Series":
    return (later.dt.year - earlier.dt.year) * 12 + (later.dt.month - earlier.dt.month)


def load_customer_months(warehouse: WarehouseResource) -> "pd.DataFrame":
    frame = warehouse.query_df(
        "SELECT customer_id, month, cohort_month, tier, mrr, is_paying, movement_type "
        "FROM marts.fct_mrr WHERE is_closed_month ORDER BY customer_id, month"
    )
    if frame.empty:
        raise ValueError("marts.fct_mrr has no closed months: nothing to fit the retention model on")
    frame["month"] = pd.to_datetime(frame["month"])
    frame["cohort_month"] = pd.to_datetime(frame["cohort_month"])
    frame["is_paying"] = frame["is_paying"].astype(bool)
    return frame


def cohort_survival(customer_months: "pd.DataFrame") -> "pd.DataFrame":
    """tier, cohort_month, period, customers: customers of the cohort (tier at start) paying in every month since.

    A customer's lifetime ends at its first month without MRR (reactivations do not revive it: sBG is a
    contractual model of one continuous lifetime); cohorts are right-censored at the last closed month.
    """
    frame = customer_months.assign(period=_months_between(customer_months["month"], customer_months["cohort_month"]))
    frame = frame[frame["period"] >= 0]
    start = frame[frame["period"] == 0].set_index("customer_id")[["cohort_month", "tier"]]
    start = start[start["tier"].notna()]
    stops = frame[~frame["is_paying"]].groupby("customer_id")["period"].min()
    customers = start.assign(lifetime=stops.reindex(start.index).fillna(np.inf))
    last_month = customer_months["month"].max()
    rows = []
    for (tier, cohort), group in customers.groupby(["tier", "cohort_month"], sort=True):
        observed = (last_month.year - cohort.year) * 12 + last_month.month - cohort.month
        lifetimes = group["lifetime"].to_numpy()
        for period in range(observed + 1):
            rows.append((tier, cohort.date(), period, int((lifetimes > period).sum())))
    return pd.DataFrame(rows, columns=["tier", "cohort_month", "period", "customers"])


def tier_economics(customer_months: "pd.DataFrame", margins: "pd.DataFrame") -> "pd.DataFrame":
    """tier, arpa (last closed month), gross_margin_pct and monthly_churn_rate (averages of the last 6 months)."""
    months = np.sort(customer_months["month"].unique())
    recent = months[-ECONOMICS_MONTHS:]
    frame = customer_months.sort_values(["customer_id", "month"])
    previous = frame.groupby("customer_id")[["tier", "is_paying"]].shift(1)
    frame = frame.assign(previous_tier=previous["tier"], was_paying=previous["is_paying"].eq(True))
    last = frame[(frame["month"] == months[-1]) & frame["is_paying"]]
    arpa = last.groupby("tier")["mrr"].mean()
    churn_rows = frame[frame["month"].isin(recent) & frame["was_paying"]]
    monthly = churn_rows.groupby(["previous_tier", "month"]).agg(
        starting=("customer_id", "size"), churned=("movement_type", lambda m: int((m == "churn").sum()))
    )
    churn_rate = (monthly["churned"] / monthly["starting"]).groupby(level=0).mean()
    paying = frame[frame["is_paying"] & frame["month"].isin(recent)][["customer_id", "month", "tier"]]
    margin = (
        paying.merge(margins, on=["customer_id", "month"], how="inner")
        .groupby("tier")[["gross_margin", "total_revenue"]]
        .sum()
    )
    margin_pct = margin["gross_margin"] / margin["total_revenue"].where(margin["total_revenue"] > 0)
    tiers = sorted(set(arpa.index) | set(churn_rate.index))
    return pd.DataFrame(
        {
            "tier": tiers,
            "arpa": arpa.reindex(tiers).to_numpy(),
            "gross_margin_pct": margin_pct.reindex(tiers).to_numpy(),
            "monthly_churn_rate": churn_rate.reindex(tiers).to_numpy(),
        }
    )


def load_margins(warehouse: WarehouseResource) -> "pd.DataFrame":
    margins = warehouse.query_df(
        "SELECT customer_id, month, gross_margin, total_revenue "
        "FROM marts.customer_margin_monthly WHERE is_closed_month"
    )
    margins["month"] = pd.to_datetime(margins["month"])
    return margins


def project(settings: Settings, warehouse: WarehouseResource, run_id: str) -> "pd.DataFrame":
    customer_months = load_customer_months(warehouse)
    cohorts = cohort_survival(customer_months)
    economics = tier_economics(customer_months, load_margins(warehouse))
    projection = retention.ltv_projection(
        cohorts, economics, annual_discount_rate=settings.ltv_discount_rate, backtest_fit_periods=BACKTEST_FIT_PERIODS
    )
    projection = projection.merge(economics[["tier", "monthly_churn_rate"]], on="tier", how="left")
    projection["data_through_month"] = customer_months["month"].max().date()
    return stamped(projection, run_id, utc_now())


def build_retention_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=ml_key(LTV_TABLE),
        group_name=ML_GROUP,
        deps=[mart_key("fct_mrr"), mart_key("customer_margin_monthly")],
        pool=POOL,
        kinds={"python", settings.warehouse},
        description=(
            "Per plan tier: shifted-beta-geometric fit on monthly cohort survival (fct_mrr), projected survival, "
            f"DERL at the configured annual discount rate (now {settings.ltv_discount_rate:.0%}), projected LTV = "
            "ARPA x gross margin % x DERL beside the simple LTV, and the cohort backtest error "
            f"(fit on the first {BACKTEST_FIT_PERIODS} months, score the later realised months)."
        ),
    )
    def ltv_projection(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        projection = project(settings, warehouse, context.run_id)
        write(warehouse, LTV_TABLE, projection)
        shown = ["tier", "alpha", "beta", "derl_months", "projected_ltv", "simple_ltv", "backtest_mape"]
        metadata: dict[str, object] = {"rows": len(projection), "tiers": markdown_table(projection[shown])}
        for record in projection.to_dict(orient="records"):
            mape = record["backtest_mape"]
            if mape is not None and np.isfinite(mape):
                metadata[f"{record['tier']}.backtest_mape"] = dg.MetadataValue.float(float(mape))
        return dg.MaterializeResult(metadata=metadata)

    return [ltv_projection]
