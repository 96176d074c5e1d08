{{ config(
    materialized='materialized_view',
    indexes=[
      {'columns': ['lead_id'], 'unique': True},
      {'columns': ['lead_score', 'lead_id']},
    ],
    pre_hook=[
      "analyze {{ source('warehouse', 'brokers') }}"
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
--   address   a street address, a two-letter state and a five-digit ZIP (a lead keyed by its MAK
--             or APN alone waits here until an upload brings its address)
--   suppression  no suppression of the lead's e-mail, address or phone (Do-Not-Call entries bar
--             calls only): lead_is_suppressed(), the same rule the feeder re-checks at pick time
--   eligible  a reverse mortgage can help: int_lead_eligibility found no reason against it (age,
--             occupancy, property type, deceased / probate / vacant, mortgage above the principal
--             limit), as the lead_scores asset wrote it into leads.ineligible_reasons in this
--             refresh; a lead not judged yet (NULL) waits for the next refresh
--   e-mail risk  the chosen e-mail is not a role account, a disposable domain or one the vendor
--             could not confirm (its label in the payload, set at validation), unless the var
--             feed_risky_emails lets them in
--
-- It reads the source tables, not the staging views: dbt replaces a view by renaming it away and
-- dropping it CASCADE, which would drop this materialized view with it (and block on its readers).
-- brokers is analysed first: a small table autovacuum may never analyse, and without statistics
-- the planner walks leads once per broker (5.6 s instead of 0.7 s at 1M leads, see benchmarks/feeder.py).
-- The score comes from leads.lead_score as the lead_scores asset wrote it from int_lead_scores in the
-- same refresh: the source `scored.leads` is the leads table after that step (which is how the
-- lineage shows it), so this view is built after the scores are in.
with leads as (
    select
        id as lead_id, assigned_broker_id as broker_id, lead_score, email, email_verified, first_name,
        last_name, property_address, property_city, property_state, property_zip, estimated_equity,
        campaign_status, consent, consented_at, phone, addr_hash, ineligible_reasons,
        coalesce((melissa_payload ->> 'litigator')::boolean, false) as is_litigator,
        jsonb_path_exists(melissa_payload, '$.emails[*] ? (@.address == $e && exists(@.risk))',
                          jsonb_build_object('e', email)) as email_is_risky
    from {{ source('scored', 'leads') }}
),

brokers as (
    select id as broker_id, company_name, license_states, status as broker_status
    from {{ source('warehouse', 'brokers') }}
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
    l.campaign_status::text as campaign_status
from leads as l
inner join brokers as b
  on l.broker_id = b.broker_id
 and b.broker_status = 'active'
 and l.property_state = any(b.license_states)
where l.email_verified
  and l.email is not null
  and l.campaign_status in ('new', 'queued')
  and not l.is_litigator
  and (not l.consent or l.consented_at is not null)
  and l.property_address is not null
  and l.property_state ~ '^[A-Z]{2}$'
  and l.property_zip ~ '^[0-9]{5}$'
  and l.ineligible_reasons = '{}'
  {% if not var('feed_risky_emails') %}and not l.email_is_risky{% endif %}
  and not public.lead_is_suppressed(public.pii_index(l.email), public.pii_index(l.phone), l.addr_hash)
