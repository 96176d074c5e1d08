{{ config(materialized='table') }}

-- The funnel by day, source and broker: how many rows arrived, became new leads, were fed,
-- replied, consented, booked, unsubscribed or bounced that day, and the day's rates. Counts are
-- events of the day (a lead fed on Monday that replies on Wednesday counts as fed on Monday and
-- as replied on Wednesday). `contactable` is the view's size at this build, on today's row only:
-- the view holds no history. Uploads carry no broker (assignment happens at the merge).
with stages as (
    select * from {{ ref('int_lead_stages') }}
),

uploads as (
    select
        s.created_at::date                          as day,
        coalesce(r.details ->> 'source', 'unknown') as source,
        null::uuid                                  as broker_id,
        sum(s.row_count)                            as uploaded_rows
    from {{ source('activity', 'pipeline_events') }} as s
    left join {{ source('activity', 'pipeline_events') }} as r
      on s.upload_id = r.upload_id and r.event_type = 'upload_received'
    where s.event_type = 'staged'
    group by 1, 2
),

flows as (
    select
        s.source,
        s.broker_id,
        v.stage,
        v.day
    from stages as s
    cross join lateral (
        values
        ('merged', s.merged_on),
        ('fed', s.fed_on),
        ('replied', s.replied_on),
        ('consented', s.consented_on),
        ('booked', s.booked_on),
        ('unsubscribed', s.unsubscribed_on),
        ('bounced', s.bounced_on)
    ) as v (stage, day)
    where v.day is not null
),

contactable as (
    select current_date as day, coalesce(l.source, 'unknown') as source, c.broker_id, count(*) as contactable
    from {{ ref('mv_contactable_leads') }} as c
    inner join {{ source('warehouse', 'leads') }} as l on c.lead_id = l.id
    group by 1, 2, 3
),

counted as (
    select
        day, source, broker_id,
        count(*) filter (where stage = 'merged')       as merged,
        count(*) filter (where stage = 'fed')          as fed,
        count(*) filter (where stage = 'replied')      as replied,
        count(*) filter (where stage = 'consented')    as consented,
        count(*) filter (where stage = 'booked')       as booked,
        count(*) filter (where stage = 'unsubscribed') as unsubscribed,
        count(*) filter (where stage = 'bounced')      as bounced
    from flows
    group by 1, 2, 3
),

keys as (
    select day, source, broker_id from counted
    union
    select day, source, broker_id from uploads
    union
    select day, source, broker_id from contactable
)

select
    k.day,
    k.source,
    k.broker_id,
    coalesce(u.uploaded_rows, 0)::bigint   as uploaded_rows,
    coalesce(c.merged, 0)                  as merged,
    coalesce(ct.contactable, 0)            as contactable,
    coalesce(c.fed, 0)                     as fed,
    coalesce(c.replied, 0)                 as replied,
    coalesce(c.consented, 0)               as consented,
    coalesce(c.booked, 0)                  as booked,
    coalesce(c.unsubscribed, 0)            as unsubscribed,
    coalesce(c.bounced, 0)                 as bounced,
    round(coalesce(c.replied, 0)::numeric / nullif(c.fed, 0), 4)  as reply_rate,
    round(coalesce(c.booked, 0)::numeric / nullif(c.fed, 0), 4)   as booking_rate
from keys as k
left join counted as c
  on k.day = c.day and k.source = c.source and k.broker_id is not distinct from c.broker_id
left join uploads as u
  on k.day = u.day and k.source = u.source and k.broker_id is not distinct from u.broker_id
left join contactable as ct
  on k.day = ct.day and k.source = ct.source and k.broker_id is not distinct from ct.broker_id
