-- The caller's user id (a broker's id): the ``sub`` claim. Part of the auth shim (see auth.jwt).
CREATE OR REPLACE FUNCTION auth.uid()
 RETURNS uuid
 LANGUAGE sql
 STABLE
AS $function$
SELECT nullif(coalesce(
  nullif(current_setting('request.jwt.claim.sub', true), ''),
  auth.jwt() ->> 'sub'
), '')::uuid
$function$;
