{{ config(materialized='table') }}

-- What each vendor list bought: per upload (grain 'upload') and per vendor source (grain
-- 'source'), the leads credited to it (int_lead_origin: each lead once), how many are eligible
-- and contactable now, fed, and what the fed ones came to — replied, booked, bounced (hard),
-- complained, unsubscribed — and, when the list's cost was recorded (`equity upload --cost`), the
-- cost per lead, per fed lead and per booking. The upload rows' totals equal the funnel's.
with stages as (
    select * from {{ ref('int_lead_stages') }}
),

origin as (
    select * from {{ ref('int_lead_origin') }}
),

complaints as (
    select distinct lead_id
    from {{ source('activity', 'lead_events') }}
    where type = 'complaint' and lead_id is not null
),

per_lead as (
    select
        o.upload_id,
        o.source,
        coalesce(l.ineligible_reasons, '{}') = '{}'                  as eligible,
        s.contactable_now,
        s.fed_on is not null                                          as fed,
        s.fed_on is not null and s.replied_on is not null             as replied,
        s.fed_on is not null and s.booked_on is not null              as booked,
        s.fed_on is not null and s.bounced_on is not null             as bounced,
        s.fed_on is not null and k.lead_id is not null                as complained,
        s.fed_on is not null and s.unsubscribed_on is not null        as unsubscribed
    from origin as o
    inner join stages as s on o.lead_id = s.lead_id
    inner join {{ source('warehouse', 'leads') }} as l on o.lead_id = l.id
    left join complaints as k on o.lead_id = k.lead_id
),

costs as (
    select upload_id, max((details ->> 'cost_usd')::numeric(12, 2)) as cost_usd
    from {{ source('activity', 'pipeline_events') }}
    where event_type = 'upload_received' and details ? 'cost_usd'
    group by upload_id
),

per_upload as (
    select
        'upload'::text                              as grain,
        p.upload_id,
        min(p.source)                               as source,
        count(*)                                    as leads,
        count(*) filter (where p.eligible)          as eligible,
        count(*) filter (where p.contactable_now)   as contactable,
        count(*) filter (where p.fed)               as fed,
        count(*) filter (where p.replied)           as replied,
        count(*) filter (where p.booked)            as booked,
        count(*) filter (where p.bounced)           as bounced,
        count(*) filter (where p.complained)        as complained,
        count(*) filter (where p.unsubscribed)      as unsubscribed,
        max(c.cost_usd)                             as cost_usd
    from per_lead as p
    left join costs as c on p.upload_id = c.upload_id
    group by p.upload_id
),

per_source as (
    select
        'source'::text              as grain,
        null::text                  as upload_id,
        source,
        sum(leads)::bigint          as leads,
        sum(eligible)::bigint       as eligible,
        sum(contactable)::bigint    as contactable,
        sum(fed)::bigint            as fed,
        sum(replied)::bigint        as replied,
        sum(booked)::bigint         as booked,
        sum(bounced)::bigint        as bounced,
        sum(complained)::bigint     as complained,
        sum(unsubscribed)::bigint   as unsubscribed,
        sum(cost_usd)               as cost_usd
    from per_upload
    group by source
),

rows_ as (
    select * from per_upload
    union all
    select * from per_source
)

select
    r.*,
    round(r.replied::numeric / nullif(r.fed, 0), 4)        as reply_rate,
    round(r.booked::numeric / nullif(r.fed, 0), 4)         as booking_rate,
    round(r.bounced::numeric / nullif(r.fed, 0), 4)        as bounce_rate,
    round(r.cost_usd / nullif(r.leads, 0), 2)              as cost_per_lead,
    round(r.cost_usd / nullif(r.fed, 0), 2)                as cost_per_fed,
    round(r.cost_usd / nullif(r.booked, 0), 2)             as cost_per_booking
from rows_ as r
