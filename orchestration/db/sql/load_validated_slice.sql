-- Moves the slice COPYed into _validated_work into leads_validated (the policies check the
-- INSERT) and empties the work table for the next slice. The chosen code of each channel becomes
-- a one-element code array; every other column is carried by name.
CREATE OR REPLACE FUNCTION public.load_validated_slice(p_upload_id text)
 RETURNS bigint
 LANGUAGE plpgsql
AS $function$
DECLARE
  v_cols text;
  v_n bigint;
BEGIN
  SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO v_cols
  FROM pg_attribute AS a
  WHERE a.attrelid = 'pg_temp._validated_work'::regclass AND a.attnum > 0 AND NOT a.attisdropped
    AND a.attname NOT IN ('email_code', 'phone_code');
  EXECUTE format(
    $q$
    INSERT INTO leads_validated (upload_id, email_verification_codes, phone_verification_codes, %1$s)
    SELECT $1,
           CASE WHEN w.email_code IS NULL THEN '{}'::text[] ELSE ARRAY[w.email_code] END,
           CASE WHEN w.phone_code IS NULL THEN '{}'::text[] ELSE ARRAY[w.phone_code] END,
           %1$s
    FROM _validated_work AS w
    $q$, v_cols) USING p_upload_id;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  TRUNCATE _validated_work;
  RETURN v_n;
END
$function$;
