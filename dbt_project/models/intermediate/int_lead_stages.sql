-- Tagged campaign: it reads the contactable view, so it is built with the campaign's marts.
{{ config(tags=['campaign']) }}

-- One row per lead: when it reached each stage of the funnel (NULL: not yet), and whether it is
-- contactable now (in the view this build refreshed). Dates are in the operators' time zone
-- (every job sets it). The first reply and booking count, later ones do not; an unsubscribe, a
-- complaint or a reply that revoked consent (data.revoked: it said stop) counts as unsubscribed,
-- a hard bounce as bounced.
with leads as (
    select id as lead_id, source, assigned_broker_id as broker_id, created_at, consented_at
    from {{ source('warehouse', 'leads') }}
),

fed as (
    -- a lead is fed once per owner: the funnel counts its first feed
    select lead_id, min(feed_date) as feed_date
    from {{ source('activity', 'campaign_batch_leads') }}
    group by lead_id
),

contactable as (
    select lead_id from {{ ref('mv_contactable_leads') }}
),

events as (
    select
        lead_id,
        min(occurred_at) filter (where type = 'reply')                         as replied_at,
        min(occurred_at) filter (where type = 'booked')                        as booked_at,
        min(occurred_at) filter (where type in ('unsubscribe', 'complaint')
                                   or (type = 'reply' and data ? 'revoked'))   as unsubscribed_at,
        min(occurred_at) filter (where type = 'bounce'
                                   and coalesce(data ->> 'bounce_type', '') not in ('soft', 'transient',
                                                                                    'temporary')) as bounced_at
    from {{ source('activity', 'lead_events') }}
    where lead_id is not null
    group by lead_id
)

select
    l.lead_id,
    coalesce(l.source, 'unknown')        as source,
    l.broker_id,
    l.created_at::date                   as merged_on,
    c.lead_id is not null                as contactable_now,
    f.feed_date                          as fed_on,
    e.replied_at::date                   as replied_on,
    l.consented_at::date                 as consented_on,
    e.booked_at::date                    as booked_on,
    e.unsubscribed_at::date              as unsubscribed_on,
    e.bounced_at::date                   as bounced_on
from leads as l
left join contactable as c on l.lead_id = c.lead_id
left join fed as f on l.lead_id = f.lead_id
left join events as e on l.lead_id = e.lead_id
