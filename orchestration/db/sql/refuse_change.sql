-- A row trigger for append-only tables (the consent evidence): an UPDATE or DELETE is refused with
-- a message naming the table, so a record of what a person agreed to cannot be edited or removed
-- after the fact by the pipeline, a broker or an operator's SQL. Only the table's owner can drop
-- the trigger, and a migration that does so shows in the schema's history.
CREATE OR REPLACE FUNCTION public.refuse_change()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused (the evidence it holds is never changed; record a new row instead)',
    TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$function$;
REVOKE ALL ON FUNCTION refuse_change() FROM PUBLIC;  -- noqa: CP02
CREATE OR REPLACE TRIGGER lead_consent_audit_append_only
  BEFORE DELETE OR UPDATE ON lead_consent_audit
  FOR EACH ROW
  EXECUTE FUNCTION refuse_change();
