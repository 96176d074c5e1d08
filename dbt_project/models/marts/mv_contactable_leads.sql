{{ config(
    materialized='materialized_view',
    indexes=[
      {'columns': ['lead_id'], 'unique': True},
      {'columns': ['lead_score', 'lead_id']},
    ]
) }}

-- Leads the e-mail campaign may contact today. Narrow on purpose: what the feeder and the export need.
-- Rules (docs/contactable.md):
--   channel   a verified e-mail (the campaign tool sends e-mail); phone is not required
--   status    campaign_status new or queued (never do_not_contact / unsubscribed / bounced / converted,
--             and not already active / replied / paused)
--   consent   a first commercial e-mail needs no prior consent (CAN-SPAM) but every e-mail carries the
--             consent link; a recorded consent must be complete (consented_at set, enforced by a CHECK);
--             litigators are never contacted
--   broker    assigned to an active broker licensed in the property's state
--   address   a two-letter state and a five-digit ZIP
with leads as (
    select * from {{ ref('stg_leads') }}
),

brokers as (
    select * from {{ ref('stg_brokers') }}
)

select
    l.lead_id,
    l.broker_id,
    b.company_name          as broker_name,
    l.lead_score,
    l.email,
    l.first_name,
    l.last_name,
    l.property_address,
    l.property_city,
    l.property_state,
    l.property_zip,
    l.estimated_equity,
    l.campaign_status
from leads l
join brokers b
  on b.broker_id = l.broker_id
 and b.broker_status = 'active'
 and l.property_state = any (b.license_states)
where l.email_verified
  and l.email is not null
  and l.campaign_status in ('new', 'queued')
  and not l.is_litigator
  and (not l.consent or l.consented_at is not null)
  and l.property_state ~ '^[A-Z]{2}$'
  and l.property_zip ~ '^[0-9]{5}$'
