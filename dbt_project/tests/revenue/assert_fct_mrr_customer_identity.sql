-- Per customer-month: mrr = previous_mrr + fx_adjustment + movement_amount (metric_rules.md "Currency"),
-- the movement type matches the zero cases of METRICS.md, and is_paying means mrr_billing_currency > 0.
select month, customer_id, previous_mrr, mrr, fx_adjustment, movement_type, movement_amount
from {{ ref('fct_mrr') }}
where mrr <> previous_mrr + fx_adjustment + movement_amount
    or (movement_type = 'churn' and mrr <> 0)
    or (movement_type in ('new', 'reactivation') and (previous_mrr <> 0 or mrr <= 0))
    or (movement_type is null and movement_amount <> 0)
    or (is_paying <> (mrr_billing_currency > 0))
