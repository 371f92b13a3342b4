"""Weekly churn-risk list for customer success: every paying customer in the high and medium bands."""

from __future__ import annotations

from orchestration.reporting.churn_snapshot import ChurnSnapshot
from orchestration.reporting.content import Column, Kpi, ReportContent, Section, Table
from orchestration.reporting.definitions import CHURN_DEFINITIONS
from orchestration.reporting.formatting import money
from orchestration.reporting.frames import RISK_BAND_ORDER, mask_customer_names, sort_by_rank
from orchestration.reporting.specs import WEEKLY_CHURN_RISK, ChurnRiskData, iso_week_bounds

LISTED_BANDS = ("high", "medium")


def build(data: ChurnRiskData, *, mask_names: bool) -> ReportContent:
    data.validate()
    data = data.normalized()
    monday, sunday = iso_week_bounds(data.period)
    predictions = mask_customer_names(data.churn_predictions, mask_names)
    band = predictions["risk_band"].str.lower()
    listed = predictions.loc[band.isin(LISTED_BANDS)]
    listed = sort_by_rank(listed, "risk_band", RISK_BAND_ORDER, ["mrr_at_risk", "customer_id"], [False, True])
    listed = listed.assign(risk_band=listed["risk_band"].str.lower())
    by_tier = (
        listed.groupby(["tier", "risk_band"])
        .agg(customers=("customer_id", "count"), mrr_at_risk=("mrr_at_risk", "sum"))
        .unstack("risk_band", fill_value=0)
    )
    by_tier.columns = [f"{band}_{measure}" for measure, band in by_tier.columns]
    for column in [f"{b}_{m}" for b in LISTED_BANDS for m in ("customers", "mrr_at_risk")]:
        if column not in by_tier.columns:
            by_tier[column] = 0
    by_tier = by_tier.reset_index().sort_values(["high_mrr_at_risk", "tier"], ascending=[False, True])
    counts = {b: int((listed["risk_band"] == b).sum()) for b in LISTED_BANDS}
    at_risk = {b: float(listed.loc[listed["risk_band"] == b, "mrr_at_risk"].sum()) for b in LISTED_BANDS}
    snapshot = ChurnSnapshot.of(predictions)
    cards = [
        Kpi("High-risk customers", float(counts["high"]), "int"),
        Kpi("MRR at risk (high)", at_risk["high"], "money"),
        Kpi("Medium-risk customers", float(counts["medium"]), "int"),
        Kpi("MRR at risk (medium)", at_risk["medium"], "money"),
    ]
    list_table = Table(
        name="churn_risk_list",
        title="High and medium risk customers",
        frame=listed,
        columns=[
            Column("customer_name", "Customer"),
            Column("customer_id", "ID"),
            Column("risk_band", "Risk"),
            Column("churn_probability", "Churn prob.", "pct"),
            Column("mrr_at_risk", "MRR at risk", "money"),
            Column("top_drivers", "Top drivers", wrap=True),
            Column("tier", "Tier"),
            Column("tenure_months", "Tenure (months)", "int"),
            Column("last_active_day", "Last active", "date"),
        ],
        empty_text="No customer is in the high or medium band.",
    )
    tier_table = Table(
        name="risk_by_tier",
        title="Summary by tier",
        frame=by_tier,
        columns=[
            Column("tier", "Tier"),
            Column("high_customers", "High: customers", "int"),
            Column("high_mrr_at_risk", "High: MRR at risk", "money"),
            Column("medium_customers", "Medium: customers", "int"),
            Column("medium_mrr_at_risk", "Medium: MRR at risk", "money"),
        ],
    )
    currency = data.currency
    return ReportContent(
        report=WEEKLY_CHURN_RISK,
        period=data.period,
        title="Weekly churn-risk list",
        subtitle=f"{data.period} ({monday:%d %b} – {sunday:%d %b %Y}) · model snapshot {snapshot.label}",
        currency=currency,
        kpis=cards,
        sections=[
            Section.of_table(tier_table, anchor="tiers"),
            Section(
                title="Customers to contact",
                anchor="list",
                intro="Sorted by band, then MRR at risk. Drivers are the model's strongest reasons for each customer.",
                tables=[list_table],
                wide=True,
            ),
        ],
        summary={
            "high_risk_customers": counts["high"],
            "medium_risk_customers": counts["medium"],
            "mrr_at_risk_high": at_risk["high"],
            "mrr_at_risk_medium": at_risk["medium"],
            "snapshot_month": snapshot.month,
            "snapshot_scored_retrospectively": snapshot.retrospective,
        },
        definitions=CHURN_DEFINITIONS,
        highlights=[
            f"{counts['high']} high-risk customers ({money(at_risk['high'], currency)} MRR at risk) and "
            f"{counts['medium']} medium-risk customers ({money(at_risk['medium'], currency)})."
        ],
        change_labels=(),
        notes=snapshot.notes,
    )
