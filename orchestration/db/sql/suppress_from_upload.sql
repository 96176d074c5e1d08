-- Vendor flags of one validated upload become suppressions, before its merge: a phone marked DNC
-- (the vendor scrubbed it against the federal registry) -> dnc_federal; a Litigator row -> every
-- phone of the row and the property's address -> litigator; an owner marked deceased -> every
-- e-mail and phone of the row -> deceased (that person is never written to or called again, on
-- any lead; the property is not suppressed: its next owner may be contacted). Then the upload's
-- own rows whose chosen phone is on the list (whatever put it there) carry phone_verified = false
-- into the merge, so a later upload cannot re-enable the number and a re-run changes nothing.
-- Leads that already held such a phone are unverified after the merge (unverify_suppressed_phones).
-- Returns the suppressions added.
CREATE OR REPLACE FUNCTION public.suppress_from_upload(p_upload_id text)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
DECLARE
  v_added integer;
BEGIN
  WITH flagged AS (
    SELECT 'phone' AS channel, pii_index(p ->> 'number') AS value,
           CASE WHEN coalesce((v.melissa_payload ->> 'litigator')::boolean, false) THEN 'litigator'
                ELSE 'dnc_federal' END AS reason
    FROM leads_validated v, jsonb_array_elements(coalesce(v.melissa_payload -> 'phones', '[]')) AS p
    WHERE v.upload_id = p_upload_id
      AND (v.melissa_payload @> '{"litigator": true}' OR v.melissa_payload @> '{"phones": [{"dnc": true}]}')
      AND (coalesce((p ->> 'dnc')::boolean, false) OR coalesce((v.melissa_payload ->> 'litigator')::boolean, false))
      AND pii_index(p ->> 'number') IS NOT NULL
    UNION
    SELECT c.channel, pii_index(c.value), 'deceased'
    FROM leads_validated v
    CROSS JOIN LATERAL (
      SELECT 'phone', p ->> 'number' FROM jsonb_array_elements(coalesce(v.melissa_payload -> 'phones', '[]')) AS p
      UNION ALL
      SELECT 'email', e ->> 'address' FROM jsonb_array_elements(coalesce(v.melissa_payload -> 'emails', '[]')) AS e
      UNION ALL
      SELECT 'phone', v.phone
      UNION ALL
      SELECT 'email', v.email
    ) AS c (channel, value)
    WHERE v.upload_id = p_upload_id AND v.owner_deceased
      AND pii_index(c.value) IS NOT NULL
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
  UPDATE leads_validated v SET phone_verified = false
  WHERE v.upload_id = p_upload_id AND v.phone_verified
    AND EXISTS (SELECT 1 FROM suppressions s WHERE s.channel = 'phone' AND s.value = pii_index(v.phone));
  RETURN v_added;
END
$function$;
