-- The advisory-lock key of a named job: two overlapping runs of a scheduled job (a retry
-- while the first still runs, a backfill next to a tick) take the same key, so only one works.
CREATE OR REPLACE FUNCTION public.job_lock_key(job_name text)
 RETURNS bigint
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT hashtextextended('equity-connect:' || job_name, 0) $function$;
