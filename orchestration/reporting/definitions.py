"""The definitions appendix: the METRICS.md definitions in the words a board reader needs.

Keep in step with METRICS.md (the project's source of truth); the wording follows it closely on purpose.
"""

from __future__ import annotations

from orchestration.reporting.content import Definition

MONTHLY_DEFINITIONS = [
    Definition("Customer", "The billing customer; all of a customer's subscriptions are summed."),
    Definition(
        "Month",
        "Calendar month in UTC. Monthly metrics are month-end snapshots: a subscription counts in a month if it is "
        "active at the last instant of the month. A month that has not ended is shown as month to date and flagged.",
    ),
    Definition(
        "MRR",
        "Per customer at month end: the recurring plan price of active subscriptions, net of discounts and "
        "excluding tax, normalised to a month (quarterly ÷3, semiannual ÷6, yearly ÷12, weekly ×52/12). Trials, "
        "$0 plans and fully discounted months count 0. Usage and one-off charges, add-ons, taxes and refunds are "
        "excluded. A customer with an invoice unpaid more than 30 days after its due date counts 0 (churn) until "
        "it is paid (reactivation). Reported in the reporting currency at the month's FX rate.",
    ),
    Definition("ARR", "MRR × 12."),
    Definition("Paying customers", "Customers with MRR > 0 at month end."),
    Definition("ARPA", "MRR / paying customers."),
    Definition(
        "MRR movements",
        "Per customer, from last month's MRR p to this month's c: new (p = 0, c > 0, never paying before), "
        "reactivation (p = 0, c > 0, paying in an earlier month), expansion (c > p > 0), contraction (0 < c < p), "
        "churn (p > 0, c = 0). Movements use constant currency (both months at this month's rate); the effect of "
        "rate changes is shown separately as FX. Ending MRR = starting MRR + new + reactivation + expansion + "
        "contraction + churn + FX, exactly.",
    ),
    Definition(
        "Logo churn rate",
        "Customers with a churn movement in the month / paying customers at the end of the month before.",
    ),
    Definition(
        "Quick ratio", "(new + reactivation + expansion) / (churn + contraction lost); blank when nothing was lost."
    ),
    Definition(
        "NRR (trailing 12 months)",
        "Customers paying 12 months ago: their MRR now / their MRR then. Customers won since are excluded.",
    ),
    Definition(
        "GRR (trailing 12 months)",
        "As NRR, but each customer's MRR now is capped at its MRR 12 months ago, so expansion cannot offset losses.",
    ),
    Definition(
        "Cohort retention",
        "Cohort = month of a customer's first MRR > 0. Logo retention = cohort customers still paying k months "
        "later / cohort size; net revenue retention = cohort MRR k months later / cohort MRR in month 0; gross "
        "revenue retention caps each customer at its month-0 MRR.",
    ),
    Definition(
        "Cash view",
        "Separate from MRR. Billings = invoices finalized in the month (excluding tax); collections = successful "
        "payments by payment date; refunds = credit-note refunds by issuing date; failed payment attempts per month.",
    ),
    Definition(
        "Usage cost and gross margin",
        "Usage cost = the spend the usage source logged (USD). Usage revenue = invoiced usage fees. Gross margin = "
        "MRR + usage revenue − usage cost; gross margin % = gross margin / (MRR + usage revenue).",
    ),
    Definition("LTV (simple)", "ARPA × gross margin % / logo churn rate averaged over the last 6 closed months."),
    Definition(
        "MRR forecast",
        "Statistical forecast of month-end MRR for the next 12 months, with 80% and 95% prediction intervals.",
    ),
    Definition(
        "Churn probability / MRR at risk",
        "The churn model's probability that a paying customer churns next month (features use data up to the last "
        "closed month); MRR at risk = probability × the customer's MRR. Bands: high (riskiest 10% of the validation "
        "snapshot), medium (next 20%), low.",
    ),
]

USAGE_DEFINITIONS = [
    Definition(
        "Requests, tokens, cost",
        "Tokens are prompt + completion; cost is the spend the usage source logged "
        "(USD). Weeks are ISO weeks, Monday to Sunday, UTC.",
    ),
    Definition("Error rate", "Failed requests / requests."),
    Definition(
        "Latency",
        "Exact daily percentiles (p50/p95/p99) of request latency; the weekly table shows the "
        "worst day, never an average of percentiles.",
    ),
    Definition(
        "Gross margin",
        "Per customer and month: MRR + usage revenue − usage cost; margin % = gross margin / (MRR + usage revenue).",
    ),
    Definition(
        "Cost forecast",
        "The monthly usage-cost forecast spread evenly over the days of each month, shown "
        "as a weekly run-rate with its 80% interval.",
    ),
]

CHURN_DEFINITIONS = [
    Definition(
        "Churn probability",
        "The model's probability that the customer has a churn movement (MRR falls to 0) "
        "next month, from data up to the end of the snapshot month.",
    ),
    Definition("MRR at risk", "Churn probability × the customer's MRR at the snapshot month."),
    Definition(
        "Risk band",
        "High: probability at or above the level of the riskiest 10% of the model's validation snapshot; medium: "
        "the next 20%; low: the rest.",
    ),
    Definition("Tenure", "Months since the customer's first month with MRR > 0."),
    Definition("Last activity", "Last day with a successful login or a usage request by one of the customer's users."),
]
