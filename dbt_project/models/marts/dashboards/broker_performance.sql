{{ config(materialized='table') }}

-- Per broker and week (weeks start on Monday): leads assigned that week (merged with the broker
-- as theirs), leads fed that week, and what the week's fed leads came to (replied, booked,
-- unsubscribed, bounced — whenever it happened), the rates against the week's feed, and how much
-- of the broker's weekly cap the feed used.
with stages as (
    select * from {{ ref('int_lead_stages') }} where broker_id is not null
),

assigned as (
    select broker_id, date_trunc('week', merged_on)::date as week, count(*) as assigned
    from stages
    group by 1, 2
),

fed as (
    select
        broker_id,
        date_trunc('week', fed_on)::date                    as week,
        count(*)                                            as fed,
        count(*) filter (where replied_on is not null)      as replied,
        count(*) filter (where booked_on is not null)       as booked,
        count(*) filter (where unsubscribed_on is not null) as unsubscribed,
        count(*) filter (where bounced_on is not null)      as bounced
    from stages
    where fed_on is not null
    group by 1, 2
),

weeks as (
    select broker_id, week from assigned
    union
    select broker_id, week from fed
)

select
    w.broker_id,
    b.company_name                                                   as broker_name,
    w.week,
    coalesce(a.assigned, 0)                                          as assigned,
    coalesce(f.fed, 0)                                               as fed,
    coalesce(f.replied, 0)                                           as replied,
    coalesce(f.booked, 0)                                            as booked,
    coalesce(f.unsubscribed, 0)                                      as unsubscribed,
    coalesce(f.bounced, 0)                                           as bounced,
    round(coalesce(f.replied, 0)::numeric / nullif(f.fed, 0), 4)     as reply_rate,
    round(coalesce(f.booked, 0)::numeric / nullif(f.fed, 0), 4)      as booking_rate,
    round(coalesce(f.bounced, 0)::numeric / nullif(f.fed, 0), 4)     as bounce_rate,
    b.max_leads_per_week                                             as weekly_cap,
    round(coalesce(f.fed, 0)::numeric / nullif(b.max_leads_per_week, 0), 4) as cap_use
from weeks as w
left join assigned as a on w.broker_id = a.broker_id and w.week = a.week
left join fed as f on w.broker_id = f.broker_id and w.week = f.week
left join {{ source('warehouse', 'brokers') }} as b on w.broker_id = b.id
