{{ config(meta={'dagster': {'ref': {'name': 'funnel_daily'}}}) }}

-- One row per (day, source, broker) of the funnel, the broker-less upload rows included.
select day, source, broker_id, count(*) as n
from {{ ref('funnel_daily') }}
group by day, source, broker_id
having count(*) > 1
