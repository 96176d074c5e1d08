-- Hex SHA-256 of a text, the SQL twin of the Python hashing (lookups from psql).
CREATE OR REPLACE FUNCTION public.sha256_hex(value text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE STRICT
AS $function$
SELECT encode(sha256(convert_to(value, 'UTF8')), 'hex')
$function$;
