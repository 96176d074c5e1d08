{{ config(materialized='table') }}

-- One row per accepted upload: when it arrived, what it held (rows, malformed rows, rejects by
-- reason, in-file duplicates), what the merge made of it (new, merged, unchanged, key conflicts),
-- how long from receipt to merge, and its status now. From the pipeline's own counts
-- (pipeline_events); the newest run of each stage counts (a re-run replaces its figures).
with received as (
    select distinct on (upload_id)
        upload_id, created_at as received_at, details
    from {{ source('activity', 'pipeline_events') }}
    where event_type = 'upload_received' and upload_id is not null
    order by upload_id, created_at
),

latest as (
    select distinct on (upload_id, event_type)
        upload_id, event_type, created_at, row_count, details
    from {{ source('activity', 'pipeline_events') }}
    where event_type in ('staged', 'validated', 'merged', 'upload_failed') and upload_id is not null
    order by upload_id asc, event_type asc, created_at desc, id desc
),

stages as (
    select
        upload_id,
        max(created_at) filter (where event_type = 'merged')                          as merged_at,
        max(created_at) filter (where event_type = 'upload_failed')                   as failed_at,
        max(created_at) filter (where event_type = 'validated')                       as validated_at,
        max((details ->> 'rows')::bigint) filter (where event_type = 'staged')        as rows_in,
        max((details ->> 'malformed_rows')::bigint) filter (where event_type = 'staged') as malformed_rows,
        max((details ->> 'rejected')::bigint) filter (where event_type = 'validated') as rejected,
        max((details ->> 'in_file_duplicates')::bigint) filter (where event_type = 'validated')
                                                                                      as in_file_duplicates,
        max((details -> 'reject_reasons')::text) filter (where event_type = 'validated')
                                                                                      as reject_reasons,
        max((details ->> 'inserted')::bigint) filter (where event_type = 'merged')    as new_leads,
        max((details ->> 'updated')::bigint) filter (where event_type = 'merged')     as merged_leads,
        max((details ->> 'unchanged')::bigint) filter (where event_type = 'merged')   as unchanged_leads,
        max((details ->> 'conflicts')::bigint) filter (where event_type = 'merged')   as key_conflicts
    from latest
    group by upload_id
)

select
    r.upload_id,
    (r.received_at at time zone '{{ var("timezone") }}')::date              as received_on,
    r.received_at,
    coalesce(r.details ->> 'source', 'unknown')                               as source,
    r.details ->> 'filename'                                                  as filename,
    (r.details ->> 'size')::bigint                                            as bytes,
    (r.details ->> 'cost_usd')::numeric(12, 2)                                as cost_usd,
    coalesce(s.rows_in, 0)                                                    as rows_in,
    coalesce(s.malformed_rows, 0)                                             as malformed_rows,
    coalesce(s.rejected, 0)                                                   as rejected,
    coalesce(s.reject_reasons, '{}')                                          as reject_reasons,
    coalesce(s.in_file_duplicates, 0)                                         as in_file_duplicates,
    coalesce(s.new_leads, 0)                                                  as new_leads,
    coalesce(s.merged_leads, 0)                                               as merged_leads,
    coalesce(s.unchanged_leads, 0)                                            as unchanged_leads,
    coalesce(s.key_conflicts, 0)                                              as key_conflicts,
    round(extract(epoch from (s.merged_at - r.received_at))::numeric, 1)      as seconds_to_merge,
    round(coalesce(s.rejected, 0)::numeric / nullif(s.rows_in, 0), 4)          as reject_rate,
    case
        when s.merged_at is not null and (s.failed_at is null or s.merged_at > s.failed_at) then 'merged'
        when s.failed_at is not null then 'failed'
        when s.validated_at is not null then 'validated'
        else 'waiting'
    end                                                                       as status
from received as r
left join stages as s on r.upload_id = s.upload_id
