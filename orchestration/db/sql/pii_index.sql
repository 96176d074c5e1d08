-- The blind index a sealed e-mail or phone carries (orchestration.pii): its second dot-separated
-- field, an HMAC of the value under a key kept outside the database. Lookups, dedupe and
-- suppressions compare these, never tokens: the warehouse holds no e-mail or phone in plain text,
-- and one value sealed under two data keys (before and after a rotation) gives two tokens. NULL
-- for NULL and for anything that is not a token.
CREATE OR REPLACE FUNCTION public.pii_index(token text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE STRICT
AS $function$
SELECT CASE WHEN token LIKE 'enc1.%' THEN split_part(token, '.', 2) END
$function$;
REVOKE ALL ON FUNCTION pii_index(text) FROM PUBLIC;  -- noqa: CP02
GRANT EXECUTE ON FUNCTION pii_index(text) TO service_role, pipeline_writer;
