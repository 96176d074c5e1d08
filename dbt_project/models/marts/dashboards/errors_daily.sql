{{ config(materialized='table') }}

-- What went wrong, by day: DLQ items by where they came from and why (the reason's first clause:
-- the pipeline's own words, never a value), refusals at the doors (uploads and events, by code),
-- and stages that failed (upload_failed), so a rising line is seen before it becomes a morning
-- without a feed.
with dlq as (
    select
        (created_at at time zone '{{ var("timezone") }}')::date         as day,
        'dlq:' || source                                                 as kind,
        left(split_part(split_part(reason, ';', 1), ':', 1), 120)        as reason,
        count(*)                                                         as items,
        count(*) filter (where resolved_at is null)                      as open_items
    from {{ source('activity', 'pipeline_dlq') }}
    group by 1, 2, 3
),

refusals as (
    select
        (created_at at time zone '{{ var("timezone") }}')::date         as day,
        event_type                                                       as kind,
        coalesce(details ->> 'code', 'unknown')                          as reason,
        count(*)                                                         as items,
        0::bigint                                                        as open_items
    from {{ source('activity', 'pipeline_events') }}
    where event_type in ('upload_refused', 'event_refused', 'upload_aborted')
    group by 1, 2, 3
),

failures as (
    select
        (created_at at time zone '{{ var("timezone") }}')::date         as day,
        'failed:' || coalesce(stage, 'unknown')                          as kind,
        left(split_part(coalesce(details ->> 'message', details ->> 'reason', 'failed'), ':', 1), 120)
                                                                         as reason,
        count(*)                                                         as items,
        0::bigint                                                        as open_items
    from {{ source('activity', 'pipeline_events') }}
    where event_type = 'upload_failed'
    group by 1, 2, 3
)

select * from dlq
union all
select * from refusals
union all
select * from failures
