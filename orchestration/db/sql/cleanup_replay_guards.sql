-- Replay guards only need to live as long as the replay window (7 days): this keeps
-- ingest_replay_guard small. Returns the rows removed.
CREATE OR REPLACE FUNCTION public.cleanup_replay_guards(max_age interval DEFAULT '7 days'::interval)
 RETURNS bigint
 LANGUAGE sql
AS $function$
WITH gone AS (
  DELETE FROM ingest_replay_guard WHERE received_at < now() - max_age RETURNING 1
)
SELECT count(*) FROM gone
$function$;
