{{ usage_partitioned_config() }}
{#- Requests of external traffic per UTC hour (feeds usage_heatmap without rescanning requests). -#}

select
    usage_date,
    usage_hour,
    count(*) as requests,
    cast(sum(case when is_failed then 1 else 0 end) as bigint) as failed_requests
from {{ ref('int_usage__requests') }}
where not is_internal
    and {{ usage_partition_filter('usage_date') }}
group by usage_date, usage_hour
