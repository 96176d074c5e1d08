-- Releases a session-level job lock taken with try_job_lock().
CREATE OR REPLACE FUNCTION public.release_job_lock(job_name text)
 RETURNS boolean
 LANGUAGE sql
AS $function$ SELECT pg_advisory_unlock(job_lock_key(job_name)) $function$;
