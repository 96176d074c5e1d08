{{ config(meta={'dagster': {'ref': {'name': 'vendor_roi'}}}) }}

-- Every rate on a dashboard is a share: between 0 and 1 (NULL where nothing was fed).
with rates as (
    select 'uploads_daily' as mart, reject_rate as rate from {{ ref('uploads_daily') }}
    union all select 'broker_performance', reply_rate from {{ ref('broker_performance') }}
    union all select 'broker_performance', booking_rate from {{ ref('broker_performance') }}
    union all select 'broker_performance', bounce_rate from {{ ref('broker_performance') }}
    union all select 'verification_providers', bounce_rate from {{ ref('verification_providers') }}
    union all select 'verification_providers', reply_rate from {{ ref('verification_providers') }}
    union all select 'vendor_roi', reply_rate from {{ ref('vendor_roi') }}
    union all select 'vendor_roi', booking_rate from {{ ref('vendor_roi') }}
    union all select 'vendor_roi', bounce_rate from {{ ref('vendor_roi') }}
)

select mart, rate from rates where rate < 0 or rate > 1
