-- Whether a reverse mortgage (HECM) can help each lead, and every reason it cannot. The contactable
-- view takes only eligible leads (the lead_scores asset copies `reasons` into
-- leads.ineligible_reasons in the same refresh); an ineligible lead stays in leads with its reasons.
--
-- Rules (each one a reason; a fact the vendor did not give never holds a lead back):
--   under_62                 the youngest known age is below 62 (24 CFR 206.33); the age is the vendor's
--                            owner age, else the years since the owner's birth date. Unknown age is allowed
--                            (age_known = false; the score gives it no eligibility points)
--   not_owner_occupied       the vendor says the owner does not live there (a HECM needs the principal
--                            residence); unknown occupancy is allowed
--   property_<class>         the property type's class is commercial, land or multi_family_5_plus
--                            (eligible: single-family, townhouse, 2-4 units, condominium, manufactured)
--   owner_deceased, probate, vacant   as the vendor flags them (a deceased owner is also suppressed as
--                            a person by the ingest: their e-mails and phones, on every lead)
--   mortgage_exceeds_limit   the open mortgage balance exceeds the estimated principal limit: the
--                            existing mortgage must be paid off from the HECM's proceeds
--
-- The principal limit is factor x min(value, the lending limit, var hecm_lending_limit = $1,249,125
-- for 2026). HUD publishes its Principal Limit Factors by age and expected rate (hud.gov, "HECM
-- Principal Limit Factors", in force since 2 October 2017); that table could not be obtained where
-- this model was written, so it is NOT used here. Instead every age gets var hecm_factor_bound (0.75),
-- a deliberately generous bound above HUD's factors for the ages and rates lenders quote: a lead is
-- held back only when even that could not pay off its mortgage (a $900k balance on a $500k home).
-- Leads whose balance fits the bound but not HUD's real factor still pass; load HUD's table into
-- `factors` below (youngest_age, factor at the current expected rate) to sharpen the rule.
with leads as (
    select * from {{ ref('stg_leads') }}
),

factors as (
    select youngest_age, {{ var('hecm_factor_bound') }}::numeric as factor
    from generate_series({{ var('eligibility_age') }}, 99) as youngest_age
),

facts as (
    select
        l.lead_id,
        coalesce(l.age, extract(year from age(current_date, l.owner_birth_date))::int) as age_years,
        l.owner_occupied,
        l.property_value,
        l.open_mortgage_balance,
        coalesce(l.owner_deceased, false) as owner_deceased,
        coalesce(l.probate, false)        as probate,
        coalesce(l.vacant, false)         as vacant,
        -- vendor spellings (PropStream, BatchData, PropertyRadar, county use codes) -> one class
        case
            when l.property_type is null then 'unknown'
            when l.property_type ~ '(VACANT|RAW|UNIMPROVED)\s*(LAND|LOT)|^LAND\M|^LOTS?\M|\mACREAGE\M|AGRICULTUR|\mFARM|RANCH|TIMBER'
                then 'land'
            when l.property_type ~ 'MOBILE|MANUFACTURED|\mMH\M|\mMFH\M'
                then 'manufactured'
            when l.property_type ~ '5\s*\+|FIVE OR MORE|5 OR MORE|\mAPARTMENT|\mAPT\M|MULTI.?FAMILY\s*\(?5|\mMFR\s*5|COMPLEX'
                then 'multi_family_5_plus'
            when l.property_type ~ 'COMMERCIAL|INDUSTRIAL|RETAIL|OFFICE|WAREHOUSE|HOTEL|MOTEL|STORE|MIXED.?USE|\mCOM\M|EXEMPT|CHURCH|SCHOOL'
                then 'commercial'
            when l.property_type ~ 'CONDO|CO.?OP'
                then 'condominium'
            when l.property_type ~ 'DUPLEX|TRIPLEX|QUADRUPLEX|FOURPLEX|2\s*-\s*4|TWO TO FOUR|MULTI.?FAMILY|\mMFR\M|\m[234]\s*UNITS?\M|\m[234]\s*FAMILY'
                then 'two_to_four_units'
            when l.property_type ~ 'SINGLE|\mSFR\M|\mSFH\M|RESIDENTIAL|TOWN.?HO|ROW.?HO|PATIO|DETACHED|PUD'
                then 'single_family'
            else 'other'
        end as property_class
    from leads as l
),

limits as (
    select
        f.*,
        f.age_years is not null as age_known,
        -- unknown age: the youngest eligible age's factor (the lowest)
        (select x.factor from factors as x
          where x.youngest_age = least(greatest(coalesce(f.age_years, {{ var('eligibility_age') }}),
                                                {{ var('eligibility_age') }}), 99))
          -- least() skips a NULL: an unknown value must give no limit, not the lending limit's
          * case when f.property_value is not null
                 then least(f.property_value, {{ var('hecm_lending_limit') }}) end as principal_limit
    from facts as f
),

judged as (
    select
        l.*,
        array_remove(array[
            case when l.age_years < {{ var('eligibility_age') }} then 'under_62' end,
            case when l.owner_occupied = false then 'not_owner_occupied' end,
            case when l.property_class in ('commercial', 'land', 'multi_family_5_plus')
                 then 'property_' || l.property_class end,
            case when l.owner_deceased then 'owner_deceased' end,
            case when l.probate then 'probate' end,
            case when l.vacant then 'vacant' end,
            case when l.open_mortgage_balance > l.principal_limit then 'mortgage_exceeds_limit' end
        ], null) as reasons
    from limits as l
)

select
    lead_id,
    cardinality(reasons) = 0                  as eligible,
    reasons,
    array_to_string(reasons, ',')             as reason_list,
    age_years,
    age_known,
    property_class,
    round(principal_limit, 2)                 as principal_limit,
    open_mortgage_balance
from judged
