-- addr_hash of a normalised address: the same recipe as orchestration.ingest.normalize.addr_hash
-- (inputs already normalised), so an operator can look a lead up by address from psql.
CREATE OR REPLACE FUNCTION public.lead_addr_hash(address text, city text, state text, zip5 text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE STRICT
AS $function$
SELECT sha256_hex(address || '|' || city || '|' || state || '|' || zip5)
$function$;
