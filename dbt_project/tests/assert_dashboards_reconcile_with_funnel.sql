{{ config(meta={'dagster': {'ref': {'name': 'vendor_roi'}}}) }}

-- The dashboards tell the funnel's story: the leads and fed leads credited to the vendor lists
-- (and, summed again, to the vendor sources) are the funnel's merged and fed totals; the score
-- bands hold every lead and every feed; the brokers' weeks hold every fed lead that has a broker.
with funnel as (
    select
        coalesce(sum(merged), 0) as merged,
        coalesce(sum(fed), 0) as fed
    from {{ ref('funnel_daily') }}
),

lists as (
    select
        coalesce(sum(leads) filter (where grain = 'upload'), 0) as leads,
        coalesce(sum(fed) filter (where grain = 'upload'), 0) as fed,
        coalesce(sum(leads) filter (where grain = 'source'), 0) as source_leads,
        coalesce(sum(fed) filter (where grain = 'source'), 0) as source_fed
    from {{ ref('vendor_roi') }}
),

scores as (
    select
        coalesce(sum(leads), 0) as leads,
        coalesce(sum(fed), 0) as fed
    from {{ ref('score_distribution') }}
),

brokers as (
    select coalesce(sum(fed), 0) as fed from {{ ref('broker_performance') }}
),

broker_funnel as (
    select count(*) as fed
    from {{ ref('int_lead_stages') }}
    where fed_on is not null and broker_id is not null
),

feeds as (
    select count(*) as fed from {{ source('activity', 'campaign_batch_leads') }}
),

compared as (
    select
        'vendor_roi leads' as what,
        lists.leads as got,
        funnel.merged as expected
    from lists cross join funnel
    union all
    select
        'vendor_roi fed' as what,
        lists.fed as got,
        funnel.fed as expected
    from lists cross join funnel
    union all
    select
        'vendor_roi leads by source' as what,
        lists.source_leads as got,
        lists.leads as expected
    from lists
    union all
    select
        'vendor_roi fed by source' as what,
        lists.source_fed as got,
        lists.fed as expected
    from lists
    union all
    select
        'score_distribution leads' as what,
        scores.leads as got,
        funnel.merged as expected
    from scores cross join funnel
    union all
    select
        'score_distribution fed' as what,
        scores.fed as got,
        feeds.fed as expected
    from scores cross join feeds
    union all
    select
        'broker_performance fed' as what,
        brokers.fed as got,
        broker_funnel.fed as expected
    from brokers cross join broker_funnel
)

select
    what,
    got,
    expected
from compared
where got <> expected
