-- After an upload's merge: leads holding a phone of that upload (its chosen phones and the ones it
-- flags DNC or Litigator) that is on the suppression list lose phone_verified — the merge keeps
-- "true stays true", and a suppression overrides it. Leads already unverified are not touched, so
-- a re-run writes nothing. Returns the leads changed.
CREATE OR REPLACE FUNCTION public.unverify_suppressed_phones(p_upload_id text)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
DECLARE
  v_changed integer;
BEGIN
  UPDATE leads l SET phone_verified = false
  FROM (SELECT DISTINCT x.idx
        FROM (SELECT pii_index(v.phone) AS idx FROM leads_validated v WHERE v.upload_id = p_upload_id AND v.phone IS NOT NULL
              UNION ALL
              SELECT pii_index(p ->> 'number') FROM leads_validated v, jsonb_array_elements(v.melissa_payload -> 'phones') AS p
              WHERE v.upload_id = p_upload_id
                AND (v.melissa_payload @> '{"litigator": true}' OR v.melissa_payload @> '{"phones": [{"dnc": true}]}')) AS x
        WHERE EXISTS (SELECT 1 FROM suppressions s WHERE s.channel = 'phone' AND s.value = x.idx)) AS sp
  -- phone IS NOT NULL lets the lookup use leads' index of phone indexes (a partial index): without
  -- it the planner cannot tell and scans every lead, a cost that grew with the warehouse
  WHERE pii_index(l.phone) = sp.idx AND l.phone IS NOT NULL AND l.phone_verified;
  GET DIAGNOSTICS v_changed = ROW_COUNT;
  RETURN v_changed;
END
$function$;
