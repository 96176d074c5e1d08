{{ config(meta={'dagster': {'ref': {'name': 'vendor_roi'}}}) }}

-- Each dashboard mart has one row per key: a duplicate would count something twice on a chart.
select
    'broker_performance' as mart,
    broker_id::text || ' ' || week::text as row_key,
    count(*) as n
from {{ ref('broker_performance') }}
group by 1, 2
having count(*) > 1

union all

select
    'verification_providers' as mart,
    provider || ' ' || status as row_key,
    count(*) as n
from {{ ref('verification_providers') }}
group by 1, 2
having count(*) > 1

union all

select
    'errors_daily' as mart,
    day::text || ' ' || kind || ' ' || reason as row_key,
    count(*) as n
from {{ ref('errors_daily') }}
group by 1, 2
having count(*) > 1

union all

select
    'vendor_roi' as mart,
    grain || ' ' || coalesce(upload_id, '') || ' ' || source as row_key,
    count(*) as n
from {{ ref('vendor_roi') }}
group by 1, 2
having count(*) > 1
