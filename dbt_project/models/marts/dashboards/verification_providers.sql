{{ config(materialized='table') }}

-- Does "deliverable" deliver? Per verification provider (the vendor profile whose skip-trace
-- verified the e-mail) and the status code it gave: leads, how many were fed, and of those how
-- many hard-bounced or replied. A lead with several codes counts under each; a lead with none
-- under 'none'.
with stages as (
    select * from {{ ref('int_lead_stages') }}
),

codes as (
    select
        l.id                                                          as lead_id,
        coalesce(l.source, 'unknown')                                 as provider,
        coalesce(nullif(lower(c.code), ''), 'none')                   as status,
        l.email_verified
    from {{ source('warehouse', 'leads') }} as l
    left join lateral unnest(
        case when cardinality(l.email_verification_codes) > 0 then l.email_verification_codes
             else array['none'] end
    ) as c (code) on true
)

select
    c.provider,
    'email'                                                                        as channel,
    c.status,
    bool_or(c.email_verified)                                                      as counted_verified,
    count(*)                                                                       as leads,
    count(*) filter (where s.fed_on is not null)                                   as fed,
    count(*) filter (where s.fed_on is not null and s.bounced_on is not null)      as hard_bounced,
    count(*) filter (where s.fed_on is not null and s.replied_on is not null)      as replied,
    round(count(*) filter (where s.fed_on is not null and s.bounced_on is not null)::numeric
          / nullif(count(*) filter (where s.fed_on is not null), 0), 4)            as bounce_rate,
    round(count(*) filter (where s.fed_on is not null and s.replied_on is not null)::numeric
          / nullif(count(*) filter (where s.fed_on is not null), 0), 4)            as reply_rate
from codes as c
inner join stages as s on c.lead_id = s.lead_id
group by c.provider, c.status
