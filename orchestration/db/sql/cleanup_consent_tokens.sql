-- Spent or expired consent tokens are of no further use: this removes them. Returns the
-- rows removed.
CREATE OR REPLACE FUNCTION public.cleanup_consent_tokens()
 RETURNS bigint
 LANGUAGE sql
AS $function$
WITH gone AS (
  DELETE FROM consent_tokens
  WHERE expires_at < now() OR used_at IS NOT NULL
  RETURNING 1
)
SELECT count(*) FROM gone
$function$;
