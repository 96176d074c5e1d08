-- The JWT claims of this request, read from the ``request.jwt.claims`` setting exactly as
-- PostgREST sets it. Created only where no Supabase ``auth`` schema exists (the shim), so the
-- same row-level security policies run on the embedded server, RDS and Supabase.
CREATE OR REPLACE FUNCTION auth.jwt()
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
SELECT coalesce(
  nullif(current_setting('request.jwt.claims', true), ''),
  '{}'
)::jsonb
$function$;
