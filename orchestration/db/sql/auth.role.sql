-- The caller's API role (anon, authenticated, service_role). Part of the auth shim (see auth.jwt).
CREATE OR REPLACE FUNCTION auth.role()
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
SELECT coalesce(
  nullif(current_setting('request.jwt.claim.role', true), ''),
  auth.jwt() ->> 'role'
)
$function$;
