-- Typed and renamed brokers; no business rules here.
select
    id                      as broker_id,
    company_name,
    contact_name,
    email                   as broker_email,
    nmls_number,
    license_states,
    territory_zip_codes,
    max_leads_per_week,
    status                  as broker_status,
    created_at
from {{ source('warehouse', 'brokers') }}
