{{ config(materialized='table') }}

-- Leads by score band (0-9, 10-19, ... 90-100): how many there are, how many are contactable
-- now, and how many were fed (at the score they had when fed).
with bands as (
    select g * 10 as band_low, case when g = 9 then 100 else g * 10 + 9 end as band_high
    from generate_series(0, 9) as g
),

scored as (
    select least(coalesce(lead_score, 0) / 10, 9) * 10 as band_low, id
    from {{ source('scored', 'leads') }}
),

contactable as (
    select least(coalesce(l.lead_score, 0) / 10, 9) * 10 as band_low, count(*) as n
    from {{ ref('mv_contactable_leads') }} as c
    inner join {{ source('scored', 'leads') }} as l on c.lead_id = l.id
    group by 1
),

fed as (
    select least(coalesce(lead_score, 0) / 10, 9) * 10 as band_low, count(*) as n
    from {{ source('activity', 'campaign_batch_leads') }}
    group by 1
)

select
    b.band_low,
    b.band_high,
    b.band_low || '-' || b.band_high                      as band,
    (select count(*) from scored as s where s.band_low = b.band_low) as leads,
    coalesce(c.n, 0)                                      as contactable,
    coalesce(f.n, 0)                                      as fed
from bands as b
left join contactable as c on b.band_low = c.band_low
left join fed as f on b.band_low = f.band_low
