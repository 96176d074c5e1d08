-- Moves the slice COPYed into _validated_work into leads_validated (the policies check the
-- INSERT) and empties the work table for the next slice.
CREATE OR REPLACE FUNCTION public.load_validated_slice(p_upload_id text)
 RETURNS bigint
 LANGUAGE plpgsql
AS $function$
DECLARE
  v_n bigint;
BEGIN
  INSERT INTO leads_validated (
    upload_id, row_number, first_name, last_name, email, phone, property_address, property_city,
    property_state, property_zip, property_value, estimated_equity, age, owner_occupied,
    email_verified, phone_verified, email_verification_codes, phone_verification_codes,
    melissa_payload, mak, apn, addr_hash, duplicate_rows)
  SELECT p_upload_id, w.row_number, w.first_name, w.last_name, w.email, w.phone, w.property_address,
         w.property_city, w.property_state, w.property_zip, w.property_value, w.estimated_equity,
         w.age, w.owner_occupied, w.email_verified, w.phone_verified,
         CASE WHEN w.email_code IS NULL THEN '{}'::text[] ELSE ARRAY[w.email_code] END,
         CASE WHEN w.phone_code IS NULL THEN '{}'::text[] ELSE ARRAY[w.phone_code] END,
         w.melissa_payload, w.mak, w.apn, w.addr_hash, 0
  FROM _validated_work w;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  TRUNCATE _validated_work;
  RETURN v_n;
END
$function$;
