{{ config(meta={'dagster': {'ref': {'name': 'vendor_roi'}}}) }}

-- Every rate on a dashboard is a share: between 0 and 1 (NULL where nothing was fed).
with rates as (
    select 'uploads_daily' as mart, reject_rate as rate from {{ ref('uploads_daily') }}
    union all
    select 'broker_performance' as mart, reply_rate as rate from {{ ref('broker_performance') }}
    union all
    select 'broker_performance' as mart, booking_rate as rate from {{ ref('broker_performance') }}
    union all
    select 'broker_performance' as mart, bounce_rate as rate from {{ ref('broker_performance') }}
    union all
    select 'verification_providers' as mart, bounce_rate as rate from {{ ref('verification_providers') }}
    union all
    select 'verification_providers' as mart, reply_rate as rate from {{ ref('verification_providers') }}
    union all
    select 'vendor_roi' as mart, reply_rate as rate from {{ ref('vendor_roi') }}
    union all
    select 'vendor_roi' as mart, booking_rate as rate from {{ ref('vendor_roi') }}
    union all
    select 'vendor_roi' as mart, bounce_rate as rate from {{ ref('vendor_roi') }}
)

select
    mart,
    rate
from rates
where rate < 0 or rate > 1
