-- The lead columns with no merge rule of their own: every column leads and leads_validated share,
-- except those the merge and the in-file collapse treat specially (channels, verification,
-- payload, address identity, dedupe keys). Their rule: the newest non-NULL value wins, and a NULL
-- never erases a known one. Read from the catalog, so a nullable column added to both tables is
-- carried through validation, in-file collapse and merge without touching a function.
CREATE OR REPLACE FUNCTION public.lead_plain_columns()
 RETURNS text[]
 LANGUAGE sql
 STABLE
AS $function$
SELECT coalesce(array_agg(a.attname::text ORDER BY a.attnum), '{}')
FROM pg_attribute AS a
WHERE a.attrelid = 'public.leads_validated'::regclass
  AND a.attnum > 0
  AND NOT a.attisdropped
  AND EXISTS (
    SELECT 1 FROM pg_attribute AS b
    WHERE b.attrelid = 'public.leads'::regclass AND b.attname = a.attname AND b.attnum > 0
      AND NOT b.attisdropped
  )
  AND a.attname NOT IN (
    'email', 'phone', 'email_verified', 'phone_verified', 'email_verification_codes',
    'phone_verification_codes', 'melissa_payload', 'property_address', 'property_city',
    'property_state', 'property_zip', 'mak', 'apn', 'addr_hash', 'owner_key', 'property_county'
  )
$function$;
