{{ config(meta={'dagster': {'ref': {'name': 'mv_contactable_leads'}}}) }}

-- No row of the contactable view breaks the status, consent, verification, litigator or broker rules.
select c.lead_id
from {{ ref('mv_contactable_leads') }} c
join {{ ref('stg_leads') }} l using (lead_id)
left join {{ ref('stg_brokers') }} b on b.broker_id = l.broker_id
where l.campaign_status not in ('new', 'queued')
   or not l.email_verified
   or l.is_litigator
   or (l.consent and l.consented_at is null)
   or b.broker_id is null
   or b.broker_status <> 'active'
   or not (l.property_state = any (b.license_states))
