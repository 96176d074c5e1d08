"""Bulk paths: unlogged work tables, validated-row publishing, a leaner merge, planner statistics.

Why (each measured on a 1M-row upload, see benchmarks/ingest.py and docs/ingest-performance.md):
- ``leads_staging`` and ``leads_validated`` become UNLOGGED. They are work tables, rebuilt from the
  landed file (whose SHA-256 is re-checked) by re-running the upload's partition; skipping the
  write-ahead log saves ~1.5 s per million rows each. After a server crash PostgreSQL empties them,
  and the next stage says "materialize … first" instead of reading half-written rows.
- ``begin_validated_work()`` / ``load_validated_slice()`` / ``publish_validated()``: validation
  streams its normalised rows, slice by slice, through a session-local work table into
  ``leads_validated`` while it normalises the next slice, then hands over the in-file duplicate
  groups it found (``_validated_groups``: only rows of multi-row groups or rows that gave up a
  clashing key). Publishing replaces each group's rows by one, collapsed with the in-file safe merge
  (later non-NULL values win, booleans OR, codes unioned, verified channel before unverified, the
  latest non-empty skip-trace payload plus any litigator flag; a litigator anywhere in the group
  means no phone). ``publish_validated`` and ``merge_validated_leads`` run with work_mem = 256MB:
  at the default 4MB their sorts and hashes of a million rows spill to disk (two statements of the
  publish measured 3.9 s -> 2.6 s and 3.7 s -> 2.3 s).
- ``merge_validated_leads`` keeps only the matched rows' keys in its work table (it used to copy
  every validated row twice: once to build it, once to rank it), compares the merged values with
  the stored row before updating (a re-run joins and writes nothing more), looks a territory broker
  up only for leads without one, inserts unmatched rows with a plain INSERT (ON CONFLICT made every
  row probe all four unique indexes first: +5 s per million), and falls back to ON CONFLICT DO
  NOTHING only when a concurrent writer created one of the keys after the match (a unique
  violation inside a subtransaction).
- The campaign trigger on ``leads`` gets a WHEN clause, so a bulk insert of leads that are not
  becoming 'active' no longer calls a PL/pgSQL function per row (-3 s per million).
- ``analyze_pipeline_table()``: the pipeline role does not own the tables, so its ``ANALYZE`` was
  silently skipped ("permission denied … skipping"). This SECURITY DEFINER helper analyses the four
  tables whose statistics steer bulk plans (see FIELD_NOTES: a ``leads`` analysed while empty made a
  merge take 13 minutes), optionally only when autovacuum's own threshold says they are stale.

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_INSERT_COLUMNS = """
            first_name, last_name, email, phone, property_address, property_city, property_state,
            property_zip, property_value, estimated_equity, age, owner_occupied, source,
            assigned_broker_id, email_verified, phone_verified, email_verification_codes,
            phone_verification_codes, melissa_payload, mak, apn, addr_hash, last_seen_at"""

_INSERT_SELECT = """
          SELECT v.first_name, v.last_name, v.email, v.phone, v.property_address, v.property_city,
                 v.property_state, v.property_zip, v.property_value, v.estimated_equity, v.age,
                 v.owner_occupied, p_source, t.id, v.email_verified, v.phone_verified,
                 v.email_verification_codes, v.phone_verification_codes,  -- sorted and distinct already
                 v.melissa_payload, v.mak, v.apn, v.addr_hash, p_seen_at
          FROM leads_validated v
          LEFT JOIN _merge_territory t ON t.z = v.property_zip AND t.st = v.property_state
          WHERE v.upload_id = p_upload_id
            AND NOT EXISTS (SELECT 1 FROM _merge_rows m WHERE m.row_number = v.row_number)"""


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE leads_staging SET UNLOGGED;
        ALTER TABLE leads_validated SET UNLOGGED;

        DROP TRIGGER set_added_to_campaign_at ON leads;
        CREATE TRIGGER set_added_to_campaign_at
          BEFORE INSERT OR UPDATE OF campaign_status ON leads
          FOR EACH ROW WHEN (NEW.campaign_status = 'active' AND NEW.added_to_campaign_at IS NULL)
          EXECUTE FUNCTION set_added_to_campaign_at();

        CREATE FUNCTION analyze_pipeline_table(t regclass, only_if_stale boolean DEFAULT false)
        RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
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
        $f$;
        REVOKE ALL ON FUNCTION analyze_pipeline_table(regclass, boolean) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION analyze_pipeline_table(regclass, boolean) TO service_role, pipeline_writer;

        -- Validation writes each normalised slice through a session-local work table (temp: no RLS,
        -- so COPY works; gone at commit) straight into leads_validated, then collapses the in-file
        -- duplicate groups it found (_validated_groups) in place.
        CREATE FUNCTION begin_validated_work(p_upload_id text) RETURNS void LANGUAGE plpgsql AS $f$
        BEGIN
          DELETE FROM leads_validated WHERE upload_id = p_upload_id;
          DROP TABLE IF EXISTS pg_temp._validated_work, pg_temp._validated_groups;
          CREATE TEMP TABLE _validated_work (
            row_number        integer NOT NULL,
            first_name        text,
            last_name         text,
            email             text,
            phone             text,
            property_address  text,
            property_city     text,
            property_state    text,
            property_zip      text,
            property_value    numeric(14, 2),
            estimated_equity  numeric(14, 2),
            age               integer,
            owner_occupied    boolean,
            email_verified    boolean NOT NULL,
            phone_verified    boolean NOT NULL,
            email_code        text,
            phone_code        text,
            melissa_payload   jsonb NOT NULL,
            mak               text,
            apn               text,
            addr_hash         text
          ) ON COMMIT DROP;
          CREATE TEMP TABLE _validated_groups (
            row_number      integer PRIMARY KEY,
            grp             integer NOT NULL,   -- the group's lowest row number
            drop_apn        boolean NOT NULL DEFAULT false,
            drop_addr_hash  boolean NOT NULL DEFAULT false
          ) ON COMMIT DROP;
        END
        $f$;

        -- Move the slice COPYed into _validated_work into leads_validated.
        CREATE FUNCTION load_validated_slice(p_upload_id text) RETURNS bigint LANGUAGE plpgsql AS $f$
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
        $f$;

        -- Collapse each in-file group into one row, numbered as its first row. "Latest" = the value of
        -- the latest row that has one (NULL never erases). Each row holds at most one code per channel.
        -- Every ordered aggregate orders by row_number DESC, so PostgreSQL 16+ sorts the input once.
        CREATE FUNCTION publish_validated(p_upload_id text)
        RETURNS TABLE (rows_written bigint, grouped_rows bigint, phone_verified bigint, email_verified bigint)
        LANGUAGE plpgsql SET work_mem = '256MB' AS $f$
        BEGIN
          -- Statistics first: the slices loaded in this transaction are a million rows the planner
          -- has not seen (it would hash them all to probe with the groups).
          ANALYZE _validated_groups;
          PERFORM analyze_pipeline_table('leads_validated');
          DROP TABLE IF EXISTS pg_temp._validated_collapsed;
          CREATE TEMP TABLE _validated_collapsed ON COMMIT DROP AS
          SELECT c.grp AS row_number, c.first_name, c.last_name, c.email,
                 CASE WHEN c.litigator THEN NULL ELSE c.phone END AS phone,
                 c.property_address, c.property_city, c.property_state, c.property_zip, c.property_value,
                 c.estimated_equity, c.age, c.owner_occupied, c.email_verified,
                 c.phone_verified AND NOT c.litigator AS phone_verified,
                 CASE WHEN c.email_code_min IS NULL THEN '{}'::text[]
                      WHEN c.email_code_min = c.email_code_max THEN ARRAY[c.email_code_min]
                      ELSE sorted_union(c.email_codes, '{}') END AS email_verification_codes,
                 CASE WHEN c.litigator OR c.phone_code_min IS NULL THEN '{}'::text[]
                      WHEN c.phone_code_min = c.phone_code_max THEN ARRAY[c.phone_code_min]
                      ELSE sorted_union(c.phone_codes, '{}') END AS phone_verification_codes,
                 c.payload || CASE WHEN c.litigator THEN '{"litigator": true}'::jsonb ELSE '{}'::jsonb END
                   AS melissa_payload,
                 c.mak, c.apn, c.addr_hash, c.members - 1 AS duplicate_rows
          FROM (
            SELECT g.grp, count(*) AS members,
              (array_agg(v.first_name ORDER BY v.row_number DESC) FILTER (WHERE v.first_name IS NOT NULL))[1] AS first_name,
              (array_agg(v.last_name ORDER BY v.row_number DESC) FILTER (WHERE v.last_name IS NOT NULL))[1] AS last_name,
              -- a verified channel beats an unverified one; among equals the later row wins
              coalesce((array_agg(v.email ORDER BY v.row_number DESC) FILTER (WHERE v.email IS NOT NULL AND v.email_verified))[1],
                       (array_agg(v.email ORDER BY v.row_number DESC) FILTER (WHERE v.email IS NOT NULL))[1]) AS email,
              coalesce((array_agg(v.phone ORDER BY v.row_number DESC) FILTER (WHERE v.phone IS NOT NULL AND v.phone_verified))[1],
                       (array_agg(v.phone ORDER BY v.row_number DESC) FILTER (WHERE v.phone IS NOT NULL))[1]) AS phone,
              (array_agg(v.property_address ORDER BY v.row_number DESC) FILTER (WHERE v.property_address IS NOT NULL))[1] AS property_address,
              (array_agg(v.property_city ORDER BY v.row_number DESC) FILTER (WHERE v.property_city IS NOT NULL))[1] AS property_city,
              (array_agg(v.property_state ORDER BY v.row_number DESC) FILTER (WHERE v.property_state IS NOT NULL))[1] AS property_state,
              (array_agg(v.property_zip ORDER BY v.row_number DESC) FILTER (WHERE v.property_zip IS NOT NULL))[1] AS property_zip,
              (array_agg(v.property_value ORDER BY v.row_number DESC) FILTER (WHERE v.property_value IS NOT NULL))[1] AS property_value,
              (array_agg(v.estimated_equity ORDER BY v.row_number DESC) FILTER (WHERE v.estimated_equity IS NOT NULL))[1] AS estimated_equity,
              (array_agg(v.age ORDER BY v.row_number DESC) FILTER (WHERE v.age IS NOT NULL))[1] AS age,
              (array_agg(v.owner_occupied ORDER BY v.row_number DESC) FILTER (WHERE v.owner_occupied IS NOT NULL))[1] AS owner_occupied,
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
              (array_agg(v.addr_hash ORDER BY v.row_number DESC) FILTER (WHERE v.addr_hash IS NOT NULL AND NOT g.drop_addr_hash))[1] AS addr_hash
            FROM _validated_groups g
            JOIN leads_validated v ON v.upload_id = p_upload_id AND v.row_number = g.row_number
            GROUP BY g.grp
          ) c;

          DELETE FROM leads_validated v USING _validated_groups g
          WHERE v.upload_id = p_upload_id AND v.row_number = g.row_number;
          INSERT INTO leads_validated (
            upload_id, row_number, first_name, last_name, email, phone, property_address, property_city,
            property_state, property_zip, property_value, estimated_equity, age, owner_occupied,
            email_verified, phone_verified, email_verification_codes, phone_verification_codes,
            melissa_payload, mak, apn, addr_hash, duplicate_rows)
          SELECT p_upload_id, c.* FROM _validated_collapsed c;
          GET DIAGNOSTICS grouped_rows = ROW_COUNT;

          SELECT count(*), count(*) FILTER (WHERE v.phone_verified), count(*) FILTER (WHERE v.email_verified)
            INTO rows_written, phone_verified, email_verified
          FROM leads_validated v WHERE v.upload_id = p_upload_id;
          RETURN NEXT;
        END
        $f$;
        """
    )
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION merge_validated_leads(p_upload_id text, p_source text, p_seen_at timestamptz)
        RETURNS TABLE (inserted bigint, updated bigint, unchanged bigint, conflicts bigint,
                       not_inserted bigint)
        LANGUAGE plpgsql SET work_mem = '256MB' AS $f$
        DECLARE
          v_round integer := 0;
          v_rounds integer;
          v_n bigint;
          v_matched bigint;
          v_new bigint;
        BEGIN
          PERFORM pg_advisory_xact_lock(job_lock_key('merge_leads'));
          PERFORM analyze_pipeline_table('leads', true);
          inserted := 0; updated := 0; unchanged := 0; conflicts := 0; not_inserted := 0;

          -- Only the rows that find an existing lead, and only their keys; rnk orders the rows
          -- that find the same lead (applied one round after another, rarely more than one).
          DROP TABLE IF EXISTS _merge_rows;
          CREATE TEMP TABLE _merge_rows ON COMMIT DROP AS
          SELECT k.*, row_number() OVER (PARTITION BY k.match_id ORDER BY k.row_number) AS rnk
          FROM (
            SELECT v.row_number, l1.id AS by_mak, l2.id AS by_apn, l3.id AS by_addr,
                   coalesce(l1.id, l2.id, l3.id) AS match_id
            FROM leads_validated v
            LEFT JOIN leads l1 ON v.mak IS NOT NULL AND l1.mak = v.mak
            LEFT JOIN leads l2 ON v.apn IS NOT NULL AND l2.apn = v.apn
                              AND l2.property_state = v.property_state
            LEFT JOIN leads l3 ON v.addr_hash IS NOT NULL AND l3.addr_hash = v.addr_hash
            WHERE v.upload_id = p_upload_id
          ) k
          WHERE k.match_id IS NOT NULL;
          ALTER TABLE _merge_rows ADD PRIMARY KEY (row_number);
          ANALYZE _merge_rows;

          -- Keys pointing at another lead than the winner: not copied, recorded.
          INSERT INTO pipeline_events (event_type, stage, upload_id, lead_id, details)
          SELECT 'dedupe_conflict', 'deduped_leads', p_upload_id, m.match_id,
                 jsonb_build_object('row_number', m.row_number, 'key', k.key, 'other_lead_id', k.other,
                                    'rule', 'earlier key of the cascade wins')
          FROM _merge_rows m
          CROSS JOIN LATERAL (VALUES ('mak', m.by_mak), ('apn', m.by_apn), ('addr_hash', m.by_addr)) AS k(key, other)
          WHERE k.other IS NOT NULL AND k.other <> m.match_id;
          GET DIAGNOSTICS v_n = ROW_COUNT;
          conflicts := v_n;

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

          WHILE v_round < v_rounds LOOP
            v_round := v_round + 1;
            WITH calc AS (
              SELECT l.id,
                coalesce(s.first_name, l.first_name) AS first_name,
                coalesce(s.last_name, l.last_name) AS last_name,
                CASE WHEN s.email IS NULL OR (l.email IS NOT NULL AND l.email_verified AND NOT s.email_verified)
                     THEN l.email ELSE s.email END AS email,
                CASE WHEN s.phone IS NULL OR (l.phone IS NOT NULL AND l.phone_verified AND NOT s.phone_verified)
                     THEN l.phone ELSE s.phone END AS phone,
                coalesce(l.property_address, s.property_address) AS property_address,
                coalesce(l.property_city, s.property_city) AS property_city,
                coalesce(l.property_state, s.property_state) AS property_state,
                coalesce(l.property_zip, s.property_zip) AS property_zip,
                coalesce(s.property_value, l.property_value) AS property_value,
                coalesce(s.estimated_equity, l.estimated_equity) AS estimated_equity,
                coalesce(s.age, l.age) AS age,
                coalesce(s.owner_occupied, l.owner_occupied) AS owner_occupied,
                coalesce(l.source, p_source) AS source,
                l.email_verified OR s.email_verified AS email_verified,
                l.phone_verified OR s.phone_verified AS phone_verified,
                -- codes already known (re-runs, repeat lists) skip the union: <@ is a cheap C test
                CASE WHEN s.email_verification_codes <@ l.email_verification_codes THEN l.email_verification_codes
                     ELSE sorted_union(l.email_verification_codes, s.email_verification_codes) END AS email_verification_codes,
                CASE WHEN s.phone_verification_codes <@ l.phone_verification_codes THEN l.phone_verification_codes
                     ELSE sorted_union(l.phone_verification_codes, s.phone_verification_codes) END AS phone_verification_codes,
                l.melissa_payload || s.melissa_payload AS melissa_payload,
                coalesce(l.mak, CASE WHEN m.by_mak IS NULL THEN s.mak END) AS mak,
                coalesce(l.apn, CASE WHEN m.by_apn IS NULL AND l.property_state = s.property_state
                                     THEN s.apn END) AS apn,
                coalesce(l.addr_hash, CASE WHEN m.by_addr IS NULL THEN s.addr_hash END) AS addr_hash,
                greatest(l.last_seen_at, p_seen_at) AS last_seen_at,
                -- the territory is looked up only for a lead that has no broker yet
                coalesce(l.assigned_broker_id,
                         (SELECT t.id FROM _merge_territory t
                          WHERE t.z = coalesce(l.property_zip, s.property_zip)
                            AND t.st = coalesce(l.property_state, s.property_state))) AS assigned_broker_id,
                (l.first_name, l.last_name, l.email, l.phone, l.property_address, l.property_city,
                 l.property_state, l.property_zip, l.property_value, l.estimated_equity, l.age,
                 l.owner_occupied, l.source, l.email_verified, l.phone_verified,
                 l.email_verification_codes, l.phone_verification_codes, l.melissa_payload,
                 l.mak, l.apn, l.addr_hash, l.last_seen_at, l.assigned_broker_id) AS stored
              FROM _merge_rows m
              JOIN leads_validated s ON s.upload_id = p_upload_id AND s.row_number = m.row_number
              JOIN leads l ON l.id = m.match_id
              WHERE m.rnk = v_round
            ), changed AS (
              -- Only rows whose merged values differ reach the UPDATE: a re-run writes nothing.
              SELECT * FROM calc c
              WHERE c.stored IS DISTINCT FROM
                    (c.first_name, c.last_name, c.email, c.phone, c.property_address, c.property_city,
                     c.property_state, c.property_zip, c.property_value, c.estimated_equity, c.age,
                     c.owner_occupied, c.source, c.email_verified, c.phone_verified,
                     c.email_verification_codes, c.phone_verification_codes, c.melissa_payload,
                     c.mak, c.apn, c.addr_hash, c.last_seen_at, c.assigned_broker_id)
            )
            UPDATE leads l SET
              first_name = c.first_name, last_name = c.last_name, email = c.email, phone = c.phone,
              property_address = c.property_address, property_city = c.property_city,
              property_state = c.property_state, property_zip = c.property_zip,
              property_value = c.property_value, estimated_equity = c.estimated_equity, age = c.age,
              owner_occupied = c.owner_occupied, source = c.source,
              email_verified = c.email_verified, phone_verified = c.phone_verified,
              email_verification_codes = c.email_verification_codes,
              phone_verification_codes = c.phone_verification_codes,
              melissa_payload = c.melissa_payload, mak = c.mak, apn = c.apn, addr_hash = c.addr_hash,
              last_seen_at = c.last_seen_at, assigned_broker_id = c.assigned_broker_id
            FROM changed c
            WHERE l.id = c.id;
            GET DIAGNOSTICS v_n = ROW_COUNT;
            updated := updated + v_n;
          END LOOP;
          unchanged := v_matched - updated;

          -- Rows that matched no lead: a plain INSERT (the advisory lock keeps other merges out).
          BEGIN
            INSERT INTO leads ({_INSERT_COLUMNS}){_INSERT_SELECT};
            GET DIAGNOSTICS v_n = ROW_COUNT;
          EXCEPTION WHEN unique_violation THEN
            -- Another writer (a broker's own insert) created one of these keys after the match:
            -- keep theirs, insert the rest, and count what was left out.
            INSERT INTO leads ({_INSERT_COLUMNS}){_INSERT_SELECT}
            ON CONFLICT DO NOTHING;
            GET DIAGNOSTICS v_n = ROW_COUNT;
          END;
          inserted := v_n;
          not_inserted := v_new - v_n;
          RETURN NEXT;
        END
        $f$;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP FUNCTION IF EXISTS publish_validated(text);
        DROP FUNCTION IF EXISTS load_validated_slice(text);
        DROP FUNCTION IF EXISTS begin_validated_work(text);
        DROP FUNCTION IF EXISTS analyze_pipeline_table(regclass, boolean);
        DROP TRIGGER set_added_to_campaign_at ON leads;
        CREATE TRIGGER set_added_to_campaign_at
          BEFORE INSERT OR UPDATE OF campaign_status ON leads
          FOR EACH ROW EXECUTE FUNCTION set_added_to_campaign_at();
        ALTER TABLE leads_validated SET LOGGED;
        ALTER TABLE leads_staging SET LOGGED;
        DROP FUNCTION merge_validated_leads(text, text, timestamptz);
        """
    )
    op.execute(_revision_0008().MERGE_FUNCTION)


def _revision_0008():
    """Revision 0008's module (its file name is not an importable identifier)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("_revision_0008", Path(__file__).with_name("0008_merge.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
