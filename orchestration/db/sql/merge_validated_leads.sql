-- The set-based triple-key merge of one upload's validated rows into leads.
--
-- The heart of the pipeline: one transaction of a few set statements, never one per row (at a
-- hosted database's 20 ms round trip that is 5 1/2 hours per million). Rows are matched to existing
-- leads by the cascade MAK -> (APN, state) -> addr_hash; the earliest key that finds a lead wins.
-- Safe merge:
-- - booleans only turn true; verification code arrays are unioned (sorted, no duplicates);
--   melissa_payload is merged with ||; a NULL never erases a known value;
-- - the address and the dedupe keys of an existing lead are identity: filled when empty, never
--   changed; a key of the incoming row that points at another lead is not copied (it would break
--   that lead's uniqueness) and the conflict is recorded (pipeline_events, dedupe_conflict);
-- - a verified channel is never replaced by an unverified one;
-- - newer data wins: last_seen_at is the receipt time of the newest upload that set the lead's
--   values; an older upload (a re-run, a backfill) only fills what is still empty, so it never
--   rolls back a value a newer one set;
-- - last_seen_at becomes the upload's receipt time, and a row whose merged values equal the stored
--   ones is not written at all, so re-running an upload leaves leads byte-for-byte equal;
-- - owner changes: a newer record whose owner shares no surname (Soundex code, owner_key) with the
--   lead's is a sale: the owner's names, contacts, verification and payload are replaced, not
--   unioned, the previous owner goes to lead_owner_history, the campaign state starts over, and an
--   owner_changed event is recorded; an older record of another owner changes no owner field; a
--   lead whose owner was erased (erased_at) takes a newer record naming an owner as its next owner;
-- - lineage: every input row (in-file duplicates included, member_rows) is recorded in
--   lead_sources with the lead it became or merged into;
-- - unmatched rows are inserted with a plain INSERT, no join to leads: a MERGE or ON CONFLICT
--   against a leads table the planner believes empty can pick a nested loop that rescans leads per
--   row (measured: > 13 minutes instead of 31 s); ON CONFLICT DO NOTHING is only the fallback when
--   a concurrent writer created a key after the match;
-- - new leads, and matched leads that still have none, get a broker by territory ZIP and licensed
--   state;
-- - a transaction-level advisory lock serialises merges, so two uploads never race on one key;
-- - work_mem = 256MB keeps the million-row sorts and hashes in memory;
-- - columns without a rule of their own (lead_plain_columns: names, money, age, occupancy, the
--   eligibility facts, and any nullable column added to leads and leads_validated later) take the
--   upload's non-NULL value.
CREATE OR REPLACE FUNCTION public.merge_validated_leads(p_upload_id text, p_source text, p_seen_at timestamp with time zone)
 RETURNS TABLE(inserted bigint, updated bigint, unchanged bigint, conflicts bigint, not_inserted bigint)
 LANGUAGE plpgsql
 SET work_mem TO '256MB'
AS $function$
DECLARE
  v_plain text[] := lead_plain_columns();
  -- the owner's own columns among them (replaced on an owner change, see below)
  v_owner_cols text[] := ARRAY['first_name', 'last_name', 'age', 'owner_occupied', 'owner_birth_date',
                               'owner_deceased', 'probate', 'consent_certificate'];
  v_calc text;
  v_stored text;
  v_merged text;
  v_set text;
  v_cols text;
  v_vals text;
  v_insert text;
  v_round integer := 0;
  v_rounds integer;
  v_n bigint;
  v_matched bigint;
  v_new bigint;
  v_pass integer;
  v_lineage text;
BEGIN
  PERFORM pg_advisory_xact_lock(job_lock_key('merge_leads'));
  CREATE TEMP TABLE IF NOT EXISTS _second_chance (row_number integer PRIMARY KEY, lead_id uuid NOT NULL,
                                                  rule text NOT NULL) ON COMMIT DROP;
  PERFORM analyze_pipeline_table('leads', true);
  inserted := 0; updated := 0; unchanged := 0; conflicts := 0; not_inserted := 0;

  -- Only the rows that find an existing lead, and only their keys; rnk orders the rows
  -- that find the same lead (applied one round after another, rarely more than one).
  -- Match, then fold stubs: a lead made from a key-only record (a MAK or an APN, no address) that
  -- a row of this upload shows to be a property another lead holds with its address is folded
  -- into that lead (its keys, names and contacts fill the other's gaps, its lineage and events
  -- follow, a lead_absorbed event is recorded), and the rows are matched again. Only stubs
  -- never fed to a campaign, whose keys and owner agree with the other lead, are folded.
  FOR v_pass IN 1..2 LOOP
    DROP TABLE IF EXISTS _merge_rows;
    CREATE TEMP TABLE _merge_rows ON COMMIT DROP AS
    SELECT k.*, row_number() OVER (PARTITION BY k.match_id ORDER BY k.row_number) AS rnk
    FROM (
      -- an APN is scoped by state and county (a row without a county, and without a ZIP to tell
      -- it, matches only a lead without one): unique (leads_apn_scope_key), so no row matches twice
      SELECT v.row_number, l1.id AS by_mak, l2.id AS by_apn, l3.id AS by_addr, sc.lead_id AS by_second_chance,
             coalesce(l1.id, l2.id, l3.id, sc.lead_id) AS match_id
      FROM leads_validated v
      LEFT JOIN leads l1 ON v.mak IS NOT NULL AND l1.mak = v.mak
      LEFT JOIN leads l2 ON v.apn IS NOT NULL AND l2.apn = v.apn
                        AND l2.property_state = v.property_state
                        AND coalesce(l2.property_county, '') = coalesce(v.property_county, '')
      LEFT JOIN leads l3 ON v.addr_hash IS NOT NULL AND l3.addr_hash = v.addr_hash
      -- a link found by the second-chance pass (orchestration.ingest.second_chance): a misspelt
      -- street or a missing ZIP, unique in its block; used only when no key matched
      LEFT JOIN pg_temp._second_chance sc ON sc.row_number = v.row_number
      WHERE v.upload_id = p_upload_id
    ) k
    WHERE k.match_id IS NOT NULL;
    ALTER TABLE _merge_rows ADD PRIMARY KEY (row_number);
    ANALYZE _merge_rows;
    EXIT WHEN v_pass = 2;
    DROP TABLE IF EXISTS _absorb;
    CREATE TEMP TABLE _absorb ON COMMIT DROP AS
    SELECT DISTINCT ON (p.stub) p.stub, p.keep, st.mak, st.apn, st.property_county, st.first_name, st.last_name,
           st.email, st.email_verified, st.email_verification_codes, st.phone, st.phone_verified,
           st.phone_verification_codes, st.owner_key
    FROM (
      SELECT CASE WHEN a.property_address IS NULL THEN a.id ELSE b.id END AS stub,
             CASE WHEN a.property_address IS NULL THEN b.id ELSE a.id END AS keep
      FROM _merge_rows m
      CROSS JOIN LATERAL (VALUES (m.by_mak, m.by_apn), (m.by_mak, m.by_addr), (m.by_apn, m.by_addr),
                                 (m.by_mak, m.by_second_chance), (m.by_apn, m.by_second_chance)) AS x (one, other)
      JOIN leads a ON a.id = x.one
      JOIN leads b ON b.id = x.other
      WHERE x.one IS NOT NULL AND x.other IS NOT NULL AND x.one <> x.other
        AND (a.property_address IS NULL) <> (b.property_address IS NULL)
    ) p
    JOIN leads st ON st.id = p.stub
    JOIN leads kp ON kp.id = p.keep
    WHERE st.campaign_status = 'new'
      AND NOT EXISTS (SELECT 1 FROM campaign_batch_leads f WHERE f.lead_id = st.id)
      AND (st.mak IS NULL OR kp.mak IS NULL OR st.mak = kp.mak)
      AND (st.apn IS NULL OR kp.apn IS NULL OR st.apn = kp.apn)
      AND (st.owner_key IS NULL OR kp.owner_key IS NULL
           OR string_to_array(st.owner_key, ' ') && string_to_array(kp.owner_key, ' '))
    ORDER BY p.stub, p.keep;
    -- a lead folded into two others, or a lead both folded and kept: left alone
    DELETE FROM _absorb a WHERE a.keep IN (SELECT b.stub FROM _absorb b)
       OR (SELECT count(DISTINCT b.keep) FROM _absorb b WHERE b.stub = a.stub) > 1;
    EXIT WHEN NOT EXISTS (SELECT 1 FROM _absorb);
    UPDATE leads l SET mak = NULL, apn = NULL FROM _absorb a WHERE l.id = a.stub;
    UPDATE leads l SET
      mak = coalesce(l.mak, a.mak),
      apn = CASE WHEN l.apn IS NULL AND coalesce(l.property_county, a.property_county, '') = coalesce(a.property_county, '')
                 THEN a.apn ELSE l.apn END,
      property_county = CASE WHEN l.apn IS NULL AND a.apn IS NOT NULL THEN coalesce(l.property_county, a.property_county)
                             ELSE l.property_county END,
      first_name = coalesce(l.first_name, a.first_name), last_name = coalesce(l.last_name, a.last_name),
      owner_key = coalesce(l.owner_key, a.owner_key),
      email = coalesce(l.email, a.email),
      email_verified = CASE WHEN l.email IS NULL THEN a.email_verified ELSE l.email_verified END,
      email_verification_codes = CASE WHEN l.email IS NULL THEN a.email_verification_codes
                                      ELSE l.email_verification_codes END,
      phone = coalesce(l.phone, a.phone),
      phone_verified = CASE WHEN l.phone IS NULL THEN a.phone_verified ELSE l.phone_verified END,
      phone_verification_codes = CASE WHEN l.phone IS NULL THEN a.phone_verification_codes
                                      ELSE l.phone_verification_codes END
    FROM _absorb a WHERE l.id = a.keep;
    UPDATE lead_sources t SET lead_id = a.keep FROM _absorb a WHERE t.lead_id = a.stub;
    UPDATE lead_events t SET lead_id = a.keep FROM _absorb a WHERE t.lead_id = a.stub;
    UPDATE lead_owner_history t SET lead_id = a.keep FROM _absorb a WHERE t.lead_id = a.stub;
    UPDATE lead_consent_audit t SET lead_id = a.keep FROM _absorb a WHERE t.lead_id = a.stub;
    UPDATE consent_tokens t SET lead_id = a.keep FROM _absorb a WHERE t.lead_id = a.stub;
    INSERT INTO pipeline_events (event_type, stage, upload_id, lead_id, details)
    SELECT 'lead_absorbed', 'leads', p_upload_id, a.keep,
           jsonb_build_object('absorbed_lead_id', a.stub, 'rule', 'a key-only lead is the property of a lead with its address')
    FROM _absorb a;
    DELETE FROM leads l USING _absorb a WHERE l.id = a.stub;
  END LOOP;

  -- Keys pointing at another lead than the winner: not copied, recorded.
  INSERT INTO pipeline_events (event_type, stage, upload_id, lead_id, details)
  SELECT 'dedupe_conflict', 'leads', p_upload_id, m.match_id,
         jsonb_build_object('row_number', m.row_number, 'key', k.key, 'other_lead_id', k.other,
                            'rule', 'earlier key of the cascade wins')
  FROM _merge_rows m
  CROSS JOIN LATERAL (VALUES ('mak', m.by_mak), ('apn', m.by_apn), ('addr_hash', m.by_addr)) AS k(key, other)
  WHERE k.other IS NOT NULL AND k.other <> m.match_id;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  conflicts := v_n;
  INSERT INTO pipeline_events (event_type, stage, upload_id, lead_id, details)
  SELECT 'second_chance_link', 'leads', p_upload_id, m.match_id,
         jsonb_build_object('row_number', m.row_number, 'rule', sc.rule)
  FROM _merge_rows m JOIN _second_chance sc ON sc.row_number = m.row_number
  WHERE m.match_id = m.by_second_chance AND m.by_mak IS NULL AND m.by_apn IS NULL AND m.by_addr IS NULL;

  SELECT count(*), coalesce(max(rnk), 0) INTO v_matched, v_rounds FROM _merge_rows;
  SELECT count(*) - v_matched INTO v_new FROM leads_validated WHERE upload_id = p_upload_id;

  -- Brokers by territory ZIP and licensed state (first created wins), for leads without one.
  DROP TABLE IF EXISTS _merge_territory;
  CREATE TEMP TABLE _merge_territory ON COMMIT DROP AS
  SELECT DISTINCT ON (z, st) z, st, b.id
  FROM brokers b, unnest(b.territory_zip_codes) AS z, unnest(b.license_states) AS st
  WHERE b.status = 'active' AND z IS NOT NULL AND st IS NOT NULL
  ORDER BY z, st, b.created_at, b.id;
  ALTER TABLE _merge_territory ADD PRIMARY KEY (z, st);

  -- Columns without a rule of their own (lead_plain_columns): the upload's non-NULL value wins,
  -- unless the lead was last set by a newer upload (then the upload only fills what is empty).
  -- The owner's own columns follow the owner: replaced on an owner change, untouched by a
  -- record of another (the previous) owner.
  SELECT string_agg(CASE WHEN c = ANY(v_owner_cols)
                         THEN format('CASE WHEN o.changed THEN s.%1$I WHEN o.other THEN l.%1$I WHEN n.newer '
                                     'THEN coalesce(s.%1$I, l.%1$I) ELSE coalesce(l.%1$I, s.%1$I) END AS %1$I', c)
                         ELSE format('CASE WHEN n.newer THEN coalesce(s.%1$I, l.%1$I) '
                                     'ELSE coalesce(l.%1$I, s.%1$I) END AS %1$I', c) END,
                    E',\n        '),
         string_agg(format('l.%I', c), ', '),
         string_agg(format('c.%I', c), ', '),
         string_agg(format('%1$I = c.%1$I', c), ', '),
         string_agg(quote_ident(c), ', '),
         string_agg(format('v.%I', c), ', ')
    INTO v_calc, v_stored, v_merged, v_set, v_cols, v_vals
  FROM unnest(v_plain) AS c;

  WHILE v_round < v_rounds LOOP
    v_round := v_round + 1;
    EXECUTE format($q$
    WITH calc AS (
      SELECT l.id, m.row_number, o.changed AS owner_changed,
        CASE WHEN o.changed THEN s.email WHEN o.other THEN l.email
             WHEN s.email IS NULL OR (l.email IS NOT NULL AND (NOT n.newer OR (l.email_verified AND NOT s.email_verified)))
             THEN l.email ELSE s.email END AS email,
        CASE WHEN o.changed THEN s.phone WHEN o.other THEN l.phone
             WHEN s.phone IS NULL OR (l.phone IS NOT NULL AND (NOT n.newer OR (l.phone_verified AND NOT s.phone_verified)))
             THEN l.phone ELSE s.phone END AS phone,
        -- the address of an existing lead is its identity: filled when empty, never changed
        coalesce(l.property_address, s.property_address) AS property_address,
        coalesce(l.property_city, s.property_city) AS property_city,
        -- the state is filled when empty, unless it would move the lead's APN into a scope another
        -- lead holds (a parcel row that named only its county made the lead)
        CASE WHEN l.property_state IS NOT NULL OR s.property_state IS NULL THEN l.property_state
             WHEN l.apn IS NULL OR NOT EXISTS (SELECT 1 FROM leads o WHERE o.apn = l.apn AND o.id <> l.id
                                                 AND o.property_state = s.property_state
                                                 AND coalesce(o.property_county, '') = coalesce(l.property_county, ''))
             THEN s.property_state END AS property_state,
        coalesce(l.property_zip, s.property_zip) AS property_zip,
        coalesce(l.source, $3) AS source,
        CASE WHEN o.changed THEN s.email_verified WHEN o.other THEN l.email_verified
             ELSE l.email_verified OR s.email_verified END AS email_verified,
        CASE WHEN o.changed THEN s.phone_verified WHEN o.other THEN l.phone_verified
             ELSE l.phone_verified OR s.phone_verified END AS phone_verified,
        -- codes already known (re-runs, repeat lists) skip the union: <@ is a cheap C test
        CASE WHEN o.changed THEN s.email_verification_codes
             WHEN o.other OR s.email_verification_codes <@ l.email_verification_codes THEN l.email_verification_codes
             ELSE sorted_union(l.email_verification_codes, s.email_verification_codes) END AS email_verification_codes,
        CASE WHEN o.changed THEN s.phone_verification_codes
             WHEN o.other OR s.phone_verification_codes <@ l.phone_verification_codes THEN l.phone_verification_codes
             ELSE sorted_union(l.phone_verification_codes, s.phone_verification_codes) END AS phone_verification_codes,
        CASE WHEN o.changed THEN s.melissa_payload WHEN o.other THEN l.melissa_payload
             WHEN n.newer THEN l.melissa_payload || s.melissa_payload
             ELSE s.melissa_payload || l.melissa_payload END AS melissa_payload,
        coalesce(l.mak, CASE WHEN m.by_mak IS NULL THEN s.mak END) AS mak,
        coalesce(l.apn, CASE WHEN m.by_apn IS NULL AND l.property_state = s.property_state
                                  AND coalesce(l.property_county, s.property_county, '') = coalesce(s.property_county, '')
                             THEN s.apn END) AS apn,
        -- the county is filled when empty, unless it would move the lead's APN into a scope
        -- another lead holds
        CASE WHEN l.property_county IS NOT NULL OR s.property_county IS NULL THEN l.property_county
             WHEN l.apn IS NULL OR NOT EXISTS (SELECT 1 FROM leads o WHERE o.apn = l.apn
                                                 AND o.property_state = l.property_state
                                                 AND o.property_county = s.property_county)
             THEN s.property_county END AS property_county,
        coalesce(l.addr_hash, CASE WHEN m.by_addr IS NULL THEN s.addr_hash END) AS addr_hash,
        CASE WHEN o.changed THEN s.owner_key ELSE coalesce(l.owner_key, s.owner_key) END AS owner_key,
        greatest(l.last_seen_at, $4) AS last_seen_at,
        -- the territory is looked up only for a lead that has no broker yet
        coalesce(l.assigned_broker_id,
                 (SELECT t.id FROM _merge_territory t
                  WHERE t.z = coalesce(l.property_zip, s.property_zip)
                    AND t.st = coalesce(l.property_state, s.property_state))) AS assigned_broker_id,
        %1$s,
        (l.email, l.phone, l.property_address, l.property_city, l.property_state, l.property_zip,
         l.source, l.email_verified, l.phone_verified, l.email_verification_codes,
         l.phone_verification_codes, l.melissa_payload, l.mak, l.apn, l.addr_hash, l.owner_key, l.property_county,
         l.last_seen_at,
         l.assigned_broker_id, %2$s) AS stored
      FROM _merge_rows m
      JOIN leads_validated s ON s.upload_id = $1 AND s.row_number = m.row_number
      JOIN leads l ON l.id = m.match_id
      CROSS JOIN LATERAL (SELECT $4 >= coalesce(l.last_seen_at, '-infinity') AS newer) n
      -- another owner: both records name someone and their surnames share no code (a sale);
      -- the newer record's owner replaces the lead's, an older one's owner is the previous owner
      CROSS JOIN LATERAL (
        SELECT w.other, w.other AND n.newer AS changed
        FROM (SELECT (l.owner_key IS NOT NULL AND s.owner_key IS NOT NULL AND l.owner_key <> s.owner_key
                      AND NOT string_to_array(l.owner_key, ' ') && string_to_array(s.owner_key, ' '))
                     -- a lead whose owner was erased: a record naming an owner (never the erased
                     -- one: the merge scrubbed those rows first) is the next owner
                     OR (l.erased_at IS NOT NULL AND s.owner_key IS NOT NULL) AS other) w
      ) o
      WHERE m.rnk = $2
    ), changed AS (
      -- Only rows whose merged values differ reach the UPDATE: a re-run writes nothing.
      SELECT * FROM calc c
      WHERE c.stored IS DISTINCT FROM
            (c.email, c.phone, c.property_address, c.property_city, c.property_state, c.property_zip,
             c.source, c.email_verified, c.phone_verified, c.email_verification_codes,
             c.phone_verification_codes, c.melissa_payload, c.mak, c.apn, c.addr_hash, c.owner_key, c.property_county,
             c.last_seen_at,
             c.assigned_broker_id, %3$s)
    ), history AS (
      -- the previous owner, kept with its dates (the same statement reads the lead before the UPDATE)
      INSERT INTO lead_owner_history (lead_id, first_name, last_name, email, phone, owner_key, melissa_payload,
                                      broker_notes, owner_since, owner_until, upload_id, row_number)
      SELECT l.id, l.first_name, l.last_name, l.email, l.phone, l.owner_key, l.melissa_payload, l.broker_notes,
             coalesce(l.owner_since, l.created_at), $4, $1, c.row_number
      FROM changed c JOIN leads l ON l.id = c.id
      WHERE c.owner_changed
      RETURNING lead_id, row_number
    ), announced AS (
      INSERT INTO pipeline_events (event_type, stage, upload_id, lead_id, details)
      SELECT 'owner_changed', 'leads', $1, h.lead_id,
             jsonb_build_object('row_number', h.row_number, 'rule', 'surnames share no Soundex code')
      FROM history h
    )
    UPDATE leads l SET
      email = c.email, phone = c.phone,
      property_address = c.property_address, property_city = c.property_city,
      property_state = c.property_state, property_zip = c.property_zip, source = c.source,
      email_verified = c.email_verified, phone_verified = c.phone_verified,
      email_verification_codes = c.email_verification_codes,
      phone_verification_codes = c.phone_verification_codes,
      melissa_payload = c.melissa_payload, mak = c.mak, apn = c.apn, addr_hash = c.addr_hash,
      owner_key = c.owner_key, property_county = c.property_county, last_seen_at = c.last_seen_at, assigned_broker_id = c.assigned_broker_id, %4$s,
      -- a new owner: the campaign starts over (suppressions of the new owner's channels still apply)
      owner_since = CASE WHEN c.owner_changed THEN $4 ELSE l.owner_since END,
      campaign_status = CASE WHEN c.owner_changed THEN 'new' ELSE l.campaign_status END,
      added_to_campaign_at = CASE WHEN c.owner_changed THEN NULL ELSE l.added_to_campaign_at END,
      last_reply_at = CASE WHEN c.owner_changed THEN NULL ELSE l.last_reply_at END,
      current_sequence_step = CASE WHEN c.owner_changed THEN 0 ELSE l.current_sequence_step END,
      consent = l.consent AND NOT c.owner_changed,
      consented_at = CASE WHEN c.owner_changed THEN NULL ELSE l.consented_at END,
      consent_method = CASE WHEN c.owner_changed THEN NULL ELSE l.consent_method END,
      vapi_call_id = CASE WHEN c.owner_changed THEN NULL ELSE l.vapi_call_id END,
      call_attempt_count = CASE WHEN c.owner_changed THEN 0 ELSE l.call_attempt_count END,
      broker_notes = CASE WHEN c.owner_changed THEN NULL ELSE l.broker_notes END,
      broker_follow_up_at = CASE WHEN c.owner_changed THEN NULL ELSE l.broker_follow_up_at END,
      erased_at = CASE WHEN c.owner_changed THEN NULL ELSE l.erased_at END
    FROM changed c
    WHERE l.id = c.id
    $q$, v_calc, v_stored, v_merged, v_set) USING p_upload_id, v_round, p_source, p_seen_at;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    updated := updated + v_n;
  END LOOP;
  unchanged := v_matched - updated;

  -- Rows that matched no lead: a plain INSERT (the advisory lock keeps other merges out), with
  -- ids chosen first so the lineage knows which lead each row became (time-ordered: the rows
  -- land side by side in the primary key and the lineage's lead index).
  DROP TABLE IF EXISTS _merge_new;
  CREATE TEMP TABLE _merge_new ON COMMIT DROP AS
  SELECT v.row_number, new_lead_id() AS id
  FROM leads_validated v
  WHERE v.upload_id = p_upload_id
    AND NOT EXISTS (SELECT 1 FROM _merge_rows m WHERE m.row_number = v.row_number);
  ALTER TABLE _merge_new ADD PRIMARY KEY (row_number);
  v_insert := format($q$
    INSERT INTO leads (
      id, email, phone, property_address, property_city, property_state, property_zip, source,
      assigned_broker_id, email_verified, phone_verified, email_verification_codes,
      phone_verification_codes, melissa_payload, mak, apn, addr_hash, owner_key, property_county, last_seen_at,
      %1$s)
    SELECT n.id, v.email, v.phone, v.property_address, v.property_city, v.property_state, v.property_zip, $2,
           t.id, v.email_verified, v.phone_verified,
           v.email_verification_codes, v.phone_verification_codes,  -- sorted and distinct already
           v.melissa_payload, v.mak, v.apn, v.addr_hash, v.owner_key, v.property_county, $3, %2$s
    FROM _merge_new n
    JOIN leads_validated v ON v.upload_id = $1 AND v.row_number = n.row_number
    LEFT JOIN _merge_territory t ON t.z = v.property_zip AND t.st = v.property_state
    $q$, v_cols, v_vals);
  BEGIN
    EXECUTE v_insert USING p_upload_id, p_source, p_seen_at;
    GET DIAGNOSTICS v_n = ROW_COUNT;
  EXCEPTION WHEN unique_violation THEN
    -- Another writer (a broker's own insert) created one of these keys after the match:
    -- keep theirs, insert the rest, and count what was left out.
    EXECUTE v_insert || ' ON CONFLICT DO NOTHING' USING p_upload_id, p_source, p_seen_at;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    -- the ids of rows left out name no lead
    DELETE FROM _merge_new n WHERE NOT EXISTS (SELECT 1 FROM leads l WHERE l.id = n.id);
  END;
  inserted := v_n;
  not_inserted := v_new - v_n;

  -- Lineage: each input row (and each in-file duplicate folded into it) -> its lead. The first
  -- merge of an upload inserts plainly; a re-run finds every row already recorded with the same
  -- lead and writes nothing.
  v_lineage := $q$
    INSERT INTO lead_sources (lead_id, upload_id, row_number, received_at)
    SELECT x.lead_id, $1, r.row_number, $2
    FROM (
      SELECT m.match_id AS lead_id, m.row_number FROM _merge_rows m
      UNION ALL
      SELECT n.id, n.row_number FROM _merge_new n
    ) x
    JOIN leads_validated v ON v.upload_id = $1 AND v.row_number = x.row_number
    CROSS JOIN LATERAL unnest(coalesce(v.member_rows, ARRAY[v.row_number])) AS r (row_number)
  $q$;
  IF EXISTS (SELECT 1 FROM lead_sources s WHERE s.upload_id = p_upload_id) THEN
    v_lineage := v_lineage || $q$
    ON CONFLICT (upload_id, row_number) DO UPDATE SET lead_id = excluded.lead_id, received_at = excluded.received_at
    WHERE lead_sources.lead_id IS DISTINCT FROM excluded.lead_id
    $q$;
  END IF;
  EXECUTE v_lineage USING p_upload_id, p_seen_at;
  RETURN NEXT;
END
$function$;
