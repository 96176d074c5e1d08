{{ config(meta={'dagster': {'ref': {'name': 'mv_contactable_leads'}}}) }}

-- No row of the contactable view breaks the status, consent, verification, litigator, broker,
-- address or eligibility rules (a lead keyed by MAK or APN alone has no address and waits; a lead
-- a reverse mortgage cannot help is held back with its reasons).
-- The status is the view's own snapshot (c.campaign_status): a feed that runs after the refresh
-- moves leads to 'active' in the live table, and that must not fail this test while the view
-- still holds the morning's snapshot (the feeder re-checks every lead against live rows).
select c.lead_id
from {{ ref('mv_contactable_leads') }} as c
inner join {{ ref('stg_leads') }} as l on c.lead_id = l.lead_id
left join {{ ref('stg_brokers') }} as b on l.broker_id = b.broker_id
where c.campaign_status not in ('new', 'queued')
   or not l.email_verified
   or l.is_litigator
   or (l.consent and l.consented_at is null)
   or b.broker_id is null
   or b.broker_status <> 'active'
   or not (l.property_state = any(b.license_states))
   or c.property_address is null
   or l.ineligible_reasons is distinct from ''
