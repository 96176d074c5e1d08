-- ANALYZE for the pipeline role. pipeline_writer does not own the tables, so its own ANALYZE
-- is silently skipped ("permission denied ... skipping"), and bulk plans then run on stale
-- statistics (a leads table analysed while empty made a merge take 13 minutes instead of 31 s).
-- SECURITY DEFINER, limited to the four tables whose statistics steer bulk plans; with
-- only_if_stale it acts only past autovacuum's own threshold.
CREATE OR REPLACE FUNCTION public.analyze_pipeline_table(t regclass, only_if_stale boolean DEFAULT false)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public'
AS $function$
DECLARE
  v_changed bigint;
  v_live bigint;
BEGIN
  IF t NOT IN ('brokers'::regclass, 'leads'::regclass, 'leads_staging'::regclass,
               'leads_validated'::regclass) THEN
    RAISE EXCEPTION 'analyze_pipeline_table: % is not a table this helper maintains', t;
  END IF;
  IF only_if_stale THEN
    SELECT n_mod_since_analyze, n_live_tup INTO v_changed, v_live
    FROM pg_stat_all_tables WHERE relid = t;
    -- autovacuum's default analyze threshold (50 rows + 10 %), acted on now, not within a minute
    IF coalesce(v_changed, 0) <= 50 + 0.1 * coalesce(v_live, 0) THEN
      RETURN false;
    END IF;
  END IF;
  EXECUTE format('ANALYZE %s', t);
  RETURN true;
END
$function$;
REVOKE ALL ON FUNCTION analyze_pipeline_table(regclass, boolean) FROM PUBLIC;  -- noqa: CP02
GRANT EXECUTE ON FUNCTION analyze_pipeline_table(regclass, boolean) TO service_role, pipeline_writer;
