-- Tagged campaign: built with the campaign's marts, after the feed's batches it reads.
{{ config(tags=['campaign']) }}

-- One row per lead: the vendor list (upload) it is credited to, so every lead counts once in the
-- per-list dashboards and their totals reconcile with the funnel. A fed lead is credited to the
-- list that supplied it when it was first fed (recorded by the feed); any other lead to the
-- newest upload that named it; a lead no upload names (loaded by hand) to 'unknown'.
with first_feed as (
    select distinct on (lead_id) lead_id, upload_id
    from {{ source('activity', 'campaign_batch_leads') }}
    order by lead_id, feed_date, batch_id
),

newest_upload as (
    select distinct on (lead_id) lead_id, upload_id
    from {{ source('activity', 'lead_sources') }}
    order by lead_id asc, received_at desc, upload_id desc
)

select
    l.id                                                    as lead_id,
    coalesce(f.upload_id, n.upload_id, 'unknown')           as upload_id,
    coalesce(l.source, 'unknown')                           as source
from {{ source('warehouse', 'leads') }} as l
left join first_feed as f on l.id = f.lead_id
left join newest_upload as n on l.id = n.lead_id
