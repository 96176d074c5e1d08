-- Transaction-level job lock: released at COMMIT/ROLLBACK, nothing to forget.
CREATE OR REPLACE FUNCTION public.try_job_xact_lock(job_name text)
 RETURNS boolean
 LANGUAGE sql
AS $function$ SELECT pg_try_advisory_xact_lock(job_lock_key(job_name)) $function$;
