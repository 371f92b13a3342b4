{{ usage_partitioned_config() }}
{#- Requests per user and day, internal users included (dim_users keeps them, flagged); engagement models drop
    internal users through dim_users.is_internal. -#}

select
    usage_date,
    user_id,
    count(*) as requests,
    cast(sum(total_tokens) as bigint) as total_tokens
from {{ ref('int_usage__requests') }}
where user_id is not null
    and {{ usage_partition_filter('usage_date') }}
group by usage_date, user_id
