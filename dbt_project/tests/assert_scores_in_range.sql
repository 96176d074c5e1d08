{{ config(meta={'dagster': {'ref': {'name': 'int_lead_scores'}}}) }}

-- Scores stay within 0..100, in the model and in what was written back to leads.
select lead_id from {{ ref('int_lead_scores') }} where lead_score not between 0 and 100
union all
select lead_id from {{ ref('stg_leads') }} where lead_score not between 0 and 100
