-- METRICS.md identity, exactly, every month:
--   ending_mrr = starting_mrr + new + reactivation + expansion + contraction + churned + fx_adjustment
-- and the waterfall chains: starting_mrr(M) = ending_mrr(M-1). Returns the months that break either.
with movements as (
    select
        *,
        lag(ending_mrr) over (order by month) as previous_ending_mrr,
        lag(month) over (order by month) as previous_month
    from {{ ref('mrr_movements') }}
)

select month, starting_mrr, ending_mrr, previous_ending_mrr
from movements
where ending_mrr <> starting_mrr + new_mrr + reactivation_mrr + expansion_mrr + contraction_mrr + churned_mrr
    + fx_adjustment
    or (previous_month is not null and starting_mrr <> previous_ending_mrr)
    or (previous_month is null and starting_mrr <> 0)
