-- Collapses each in-file duplicate group into one row, numbered as its first row (member_rows keeps
-- the row numbers of every member, for the lineage in lead_sources), with the
-- in-file safe merge: "latest" is the value of the latest row that has one (NULL never erases),
-- booleans OR, codes unioned, a verified channel before an unverified one, the latest non-empty
-- skip-trace payload plus any litigator flag; a litigator anywhere in the group means no phone.
-- Rows of another owner than the group's (drop_owner) count as members and nothing more.
-- Columns without a rule of their own (lead_plain_columns) are aggregated by name, so a column
-- added to leads_validated and leads is carried through. Runs with work_mem = 256MB: at 4MB its sorts and hashes of a million rows spill to disk.
CREATE OR REPLACE FUNCTION public.publish_validated(p_upload_id text)
 RETURNS TABLE(rows_written bigint, grouped_rows bigint, phone_verified bigint, email_verified bigint)
 LANGUAGE plpgsql
 SET work_mem TO '256MB'
AS $function$
DECLARE
  v_plain text[] := lead_plain_columns();
  v_aggs text;
  v_outer text;
  v_names text;
BEGIN
  -- Statistics first: the slices loaded in this transaction are a million rows the planner
  -- has not seen (it would hash them all to probe with the groups).
  ANALYZE _validated_groups;
  PERFORM analyze_pipeline_table('leads_validated');
  -- Columns without a rule of their own (lead_plain_columns): the latest non-NULL value.
  SELECT string_agg(format('(array_agg(v.%1$I ORDER BY v.row_number DESC) FILTER (WHERE v.%1$I IS NOT NULL))[1] AS %1$I', c), E',\n      '),
         string_agg(format('c.%I', c), ', '),
         string_agg(quote_ident(c), ', ')
    INTO v_aggs, v_outer, v_names
  FROM unnest(v_plain) AS c;
  DROP TABLE IF EXISTS pg_temp._validated_collapsed;
  EXECUTE format($q$
  CREATE TEMP TABLE _validated_collapsed ON COMMIT DROP AS
  SELECT c.grp AS row_number, c.email,
         CASE WHEN c.litigator THEN NULL ELSE c.phone END AS phone,
         c.property_address, c.property_city, c.property_state, c.property_zip, c.email_verified,
         c.phone_verified AND NOT c.litigator AS phone_verified,
         CASE WHEN c.email_code_min IS NULL THEN '{}'::text[]
              WHEN c.email_code_min = c.email_code_max THEN ARRAY[c.email_code_min]
              ELSE sorted_union(c.email_codes, '{}') END AS email_verification_codes,
         CASE WHEN c.litigator OR c.phone_code_min IS NULL THEN '{}'::text[]
              WHEN c.phone_code_min = c.phone_code_max THEN ARRAY[c.phone_code_min]
              ELSE sorted_union(c.phone_codes, '{}') END AS phone_verification_codes,
         c.payload || CASE WHEN c.litigator THEN '{"litigator": true}'::jsonb ELSE '{}'::jsonb END
           AS melissa_payload,
         c.mak, c.apn, c.addr_hash, c.members - 1 AS duplicate_rows, c.member_rows, c.owner_key, c.property_county,
         %2$s
  FROM (
    SELECT g.grp, count(*) AS members, array_agg(g.row_number ORDER BY g.row_number) AS member_rows,
      -- a verified channel beats an unverified one; among equals the later row wins
      coalesce((array_agg(v.email ORDER BY v.row_number DESC) FILTER (WHERE v.email IS NOT NULL AND v.email_verified))[1],
               (array_agg(v.email ORDER BY v.row_number DESC) FILTER (WHERE v.email IS NOT NULL))[1]) AS email,
      coalesce((array_agg(v.phone ORDER BY v.row_number DESC) FILTER (WHERE v.phone IS NOT NULL AND v.phone_verified))[1],
               (array_agg(v.phone ORDER BY v.row_number DESC) FILTER (WHERE v.phone IS NOT NULL))[1]) AS phone,
      (array_agg(v.property_address ORDER BY v.row_number DESC) FILTER (WHERE v.property_address IS NOT NULL))[1] AS property_address,
      (array_agg(v.property_city ORDER BY v.row_number DESC) FILTER (WHERE v.property_city IS NOT NULL))[1] AS property_city,
      (array_agg(v.property_state ORDER BY v.row_number DESC) FILTER (WHERE v.property_state IS NOT NULL))[1] AS property_state,
      (array_agg(v.property_zip ORDER BY v.row_number DESC) FILTER (WHERE v.property_zip IS NOT NULL))[1] AS property_zip,
      bool_or(v.email_verified) AS email_verified,
      bool_or(v.phone_verified) AS phone_verified,
      -- codes: most groups carry one distinct code; only the others need a sorted union
      min(v.email_verification_codes[1]) AS email_code_min, max(v.email_verification_codes[1]) AS email_code_max,
      array_agg(v.email_verification_codes[1]) FILTER (WHERE cardinality(v.email_verification_codes) > 0) AS email_codes,
      min(v.phone_verification_codes[1]) AS phone_code_min, max(v.phone_verification_codes[1]) AS phone_code_max,
      array_agg(v.phone_verification_codes[1]) FILTER (WHERE cardinality(v.phone_verification_codes) > 0) AS phone_codes,
      coalesce((array_agg(v.melissa_payload ORDER BY v.row_number DESC) FILTER (WHERE v.melissa_payload <> '{}'))[1], '{}') AS payload,
      coalesce(bool_or(v.melissa_payload @> '{"litigator": true}'), false) AS litigator,
      (array_agg(v.mak ORDER BY v.row_number DESC) FILTER (WHERE v.mak IS NOT NULL))[1] AS mak,
      (array_agg(v.apn ORDER BY v.row_number DESC) FILTER (WHERE v.apn IS NOT NULL AND NOT g.drop_apn))[1] AS apn,
      (array_agg(v.addr_hash ORDER BY v.row_number DESC) FILTER (WHERE v.addr_hash IS NOT NULL AND NOT g.drop_addr_hash))[1] AS addr_hash,
      (array_agg(v.owner_key ORDER BY v.row_number DESC) FILTER (WHERE v.owner_key IS NOT NULL))[1] AS owner_key,
      (array_agg(v.property_county ORDER BY v.row_number DESC) FILTER (WHERE v.property_county IS NOT NULL))[1]
        AS property_county,
      %1$s
    FROM _validated_groups g
    -- a row of another owner than the group's (drop_owner) counts as a member and nothing more
    LEFT JOIN leads_validated v ON v.upload_id = $1 AND v.row_number = g.row_number AND NOT g.drop_owner
    GROUP BY g.grp
  ) c
  $q$, v_aggs, v_outer) USING p_upload_id;

  DELETE FROM leads_validated v USING _validated_groups g
  WHERE v.upload_id = p_upload_id AND v.row_number = g.row_number;
  EXECUTE format($q$
  INSERT INTO leads_validated (
    upload_id, row_number, email, phone, property_address, property_city, property_state,
    property_zip, email_verified, phone_verified, email_verification_codes, phone_verification_codes,
    melissa_payload, mak, apn, addr_hash, duplicate_rows, member_rows, owner_key, property_county, %1$s)
  SELECT $1, c.* FROM _validated_collapsed c
  $q$, v_names) USING p_upload_id;
  GET DIAGNOSTICS grouped_rows = ROW_COUNT;

  SELECT count(*), count(*) FILTER (WHERE v.phone_verified), count(*) FILTER (WHERE v.email_verified)
    INTO rows_written, phone_verified, email_verified
  FROM leads_validated v WHERE v.upload_id = p_upload_id;
  RETURN NEXT;
END
$function$;
