{{ config(meta={'dagster': {'ref': {'name': 'vendor_roi'}}}) }}

-- The dashboards tell the funnel's story: the leads and fed leads credited to the vendor lists
-- (and, summed again, to the vendor sources) are the funnel's merged and fed totals; the score
-- bands hold every lead and every feed; the brokers' weeks hold every fed lead that has a broker.
with funnel as (
    select sum(merged) as merged, sum(fed) as fed from {{ ref('funnel_daily') }}
),

lists as (
    select
        sum(leads) filter (where grain = 'upload')  as leads,
        sum(fed) filter (where grain = 'upload')    as fed,
        sum(leads) filter (where grain = 'source')  as source_leads,
        sum(fed) filter (where grain = 'source')    as source_fed
    from {{ ref('vendor_roi') }}
),

scores as (
    select sum(leads) as leads, sum(fed) as fed from {{ ref('score_distribution') }}
),

brokers as (
    select sum(fed) as fed from {{ ref('broker_performance') }}
),

broker_funnel as (
    select count(*) as fed from {{ ref('int_lead_stages') }} where fed_on is not null and broker_id is not null
),

feeds as (
    select count(*) as fed from {{ source('activity', 'campaign_batch_leads') }}
)

select 'vendor_roi leads' as what, l.leads as got, f.merged as expected from lists l, funnel f
where coalesce(l.leads, 0) <> coalesce(f.merged, 0)
union all
select 'vendor_roi fed', l.fed, f.fed from lists l, funnel f where coalesce(l.fed, 0) <> coalesce(f.fed, 0)
union all
select 'vendor_roi by source', l.source_leads, l.leads from lists l
where coalesce(l.source_leads, 0) <> coalesce(l.leads, 0) or coalesce(l.source_fed, 0) <> coalesce(l.fed, 0)
union all
select 'score_distribution leads', s.leads, f.merged from scores s, funnel f
where coalesce(s.leads, 0) <> coalesce(f.merged, 0)
union all
select 'score_distribution fed', s.fed, x.fed from scores s, feeds x where coalesce(s.fed, 0) <> x.fed
union all
select 'broker_performance fed', b.fed, bf.fed from brokers b, broker_funnel bf
where coalesce(b.fed, 0) <> bf.fed
