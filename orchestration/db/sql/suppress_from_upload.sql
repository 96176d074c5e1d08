-- Vendor flags of one merged upload become suppressions, so no later upload can re-enable them:
-- a phone marked DNC (the vendor scrubbed it against the federal registry) -> dnc_federal; a
-- Litigator row -> every phone of the row and the property's address -> litigator. Leads holding
-- a suppressed phone of the upload lose phone_verified (a suppression overrides the merge's "true
-- stays true", so a later upload cannot re-enable the number). Returns the suppressions added.
CREATE OR REPLACE FUNCTION public.suppress_from_upload(p_upload_id text)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
DECLARE
  v_added integer;
BEGIN
  WITH flagged AS (
    SELECT 'phone' AS channel, p ->> 'number' AS value,
           CASE WHEN coalesce((v.melissa_payload ->> 'litigator')::boolean, false) THEN 'litigator'
                ELSE 'dnc_federal' END AS reason
    FROM leads_validated v, jsonb_array_elements(coalesce(v.melissa_payload -> 'phones', '[]')) AS p
    WHERE v.upload_id = p_upload_id
      AND (v.melissa_payload @> '{"litigator": true}' OR v.melissa_payload @> '{"phones": [{"dnc": true}]}')
      AND (coalesce((p ->> 'dnc')::boolean, false) OR coalesce((v.melissa_payload ->> 'litigator')::boolean, false))
      AND p ->> 'number' IS NOT NULL
    UNION
    SELECT 'address', v.addr_hash, 'litigator'
    FROM leads_validated v
    WHERE v.upload_id = p_upload_id AND v.melissa_payload @> '{"litigator": true}'
      AND v.addr_hash IS NOT NULL
  ),
  added AS (
    INSERT INTO suppressions (channel, value, reason, source)
    SELECT f.channel, f.value, f.reason, 'upload:' || p_upload_id FROM flagged f
    ON CONFLICT DO NOTHING
    RETURNING 1
  )
  SELECT count(*) INTO v_added FROM added;
  -- The upload's phones (its chosen ones and the flagged ones a lead may still hold) that are on
  -- the list, whatever put them there: their leads' phones are not verified any more.
  UPDATE leads l SET phone_verified = false
  FROM (SELECT DISTINCT x.phone
        FROM (SELECT v.phone FROM leads_validated v WHERE v.upload_id = p_upload_id AND v.phone IS NOT NULL
              UNION ALL
              SELECT p ->> 'number' FROM leads_validated v, jsonb_array_elements(v.melissa_payload -> 'phones') AS p
              WHERE v.upload_id = p_upload_id
                AND (v.melissa_payload @> '{"litigator": true}' OR v.melissa_payload @> '{"phones": [{"dnc": true}]}')) AS x
        WHERE EXISTS (SELECT 1 FROM suppressions s WHERE s.channel = 'phone' AND s.value = x.phone)) AS sp
  WHERE l.phone = sp.phone AND l.phone_verified;
  RETURN v_added;
END
$function$;
