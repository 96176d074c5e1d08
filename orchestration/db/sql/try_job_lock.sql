-- Session-level job lock: held until release_job_lock() or the connection closes; false
-- when another session holds it (the caller skips its work).
CREATE OR REPLACE FUNCTION public.try_job_lock(job_name text)
 RETURNS boolean
 LANGUAGE sql
AS $function$ SELECT pg_try_advisory_lock(job_lock_key(job_name)) $function$;
