-- How a table holding lead or pipeline data is protected, in one place: row-level security
-- enabled and FORCED (the owner obeys it too), SELECT for the brokers' role (RLS decides which
-- rows: none without a policy; anon gets no privilege at all), everything for service_role and
-- pipeline_writer through explicit policies. Revisions call it for each table they add.
CREATE OR REPLACE FUNCTION public.protect_pipeline_table(t regclass)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
DECLARE name text := (SELECT relname FROM pg_class WHERE oid = t);
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
  EXECUTE format('GRANT SELECT ON %s TO authenticated', t);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO service_role, pipeline_writer', t);
  EXECUTE format('CREATE POLICY %I ON %s FOR ALL TO service_role USING (true) WITH CHECK (true)',
                 name || '_service_role_all', t);
  EXECUTE format('CREATE POLICY %I ON %s FOR ALL TO pipeline_writer USING (true) WITH CHECK (true)',
                 name || '_pipeline_writer_all', t);
END
$function$;
