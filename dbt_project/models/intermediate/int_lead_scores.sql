{{ config(indexes=[{'columns': ['lead_id'], 'unique': True}]) }}

-- A deterministic 0-100 score (the lead_scores asset writes it into leads.lead_score, which the
-- contactable view and the feeder rank on); each factor is its own column so an operator sees why a lead
-- ranks where it does. Same inputs on the same date -> same score.
--   eligibility   30  owner age >= 62 (HECM minimum); 10 at 58-61 (eligible soon); unknown 0
--   equity        20  estimated equity >= 300k; 15 >= 150k; 10 >= 75k; 5 > 0
--   equity_ratio  15  equity / value >= 70%; 10 >= 50%; 5 >= 30%
--   occupancy     10  owner-occupied (a reverse mortgage needs a primary residence)
--   channels      20  10 verified e-mail + 10 verified phone
--   recency        5  seen in an upload within 30 days; 3 within 90 days
with leads as (
    select * from {{ ref('stg_leads') }}
),

factors as (
    select
        lead_id,
        case when age >= {{ var('eligibility_age') }} then 30
             when age >= {{ var('eligibility_age') }} - 4 then 10
             else 0 end                                                  as eligibility_points,
        case when estimated_equity >= 300000 then 20
             when estimated_equity >= 150000 then 15
             when estimated_equity >= 75000 then 10
             when estimated_equity > 0 then 5
             else 0 end                                                  as equity_points,
        case when property_value > 0 and estimated_equity / property_value >= 0.7 then 15
             when property_value > 0 and estimated_equity / property_value >= 0.5 then 10
             when property_value > 0 and estimated_equity / property_value >= 0.3 then 5
             else 0 end                                                  as equity_ratio_points,
        case when owner_occupied then 10 else 0 end                      as occupancy_points,
        (case when email_verified then 10 else 0 end)
          + (case when phone_verified then 10 else 0 end)                as channel_points,
        case when last_seen_at >= current_date - 30 then 5
             when last_seen_at >= current_date - 90 then 3
             else 0 end                                                  as recency_points
    from leads
)

select
    lead_id,
    eligibility_points,
    equity_points,
    equity_ratio_points,
    occupancy_points,
    channel_points,
    recency_points,
    least(100, eligibility_points + equity_points + equity_ratio_points + occupancy_points
               + channel_points + recency_points)                        as lead_score
from factors
