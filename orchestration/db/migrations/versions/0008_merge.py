"""leads_validated work table and merge_validated_leads(): the set-based triple-key merge.

Why: the merge is the heart of the pipeline and must be one transaction of a few set statements,
never a statement per row (at a hosted database's 20 ms round trip that is 5½ hours per million).
The validated rows of one upload (already normalised and deduplicated within the file) are matched
to existing leads by the cascade MAK -> (APN, state) -> addr_hash; the earliest key that finds a
lead wins. Rules of the safe merge:
- booleans only turn true; verification code arrays are unioned (sorted, no duplicates);
  ``melissa_payload`` is merged with ``||``; a NULL never erases a known value;
- the address (street, city, state, ZIP) and the dedupe keys of an existing lead are identity:
  they are filled when empty, never changed; a key of the incoming row that points at another lead
  is not copied (it would break that lead's uniqueness) and the conflict is recorded in
  ``pipeline_events`` (event_type ``dedupe_conflict``);
- a verified channel is never replaced by an unverified one;
- ``last_seen_at`` becomes the upload's receipt time, and a row whose merged values equal the
  stored ones is not touched at all, so re-running an upload leaves ``leads`` byte-for-byte equal;
- unmatched rows are inserted with a plain INSERT (no join to ``leads``: see FIELD_NOTES on the
  nested-loop hazard); new leads, and matched leads that still have none, get a broker by territory
  ZIP and licensed state;
- a transaction-level advisory lock serialises merges, so two uploads never race on one key.

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


# The merge function on its own, so that a later revision's downgrade can restore it.
MERGE_FUNCTION = """
        CREATE FUNCTION merge_validated_leads(p_upload_id text, p_source text, p_seen_at timestamptz)
        RETURNS TABLE (inserted bigint, updated bigint, unchanged bigint, conflicts bigint,
                       not_inserted bigint)
        LANGUAGE plpgsql AS $f$
        DECLARE
          v_round integer := 0;
          v_rounds integer;
          v_n bigint;
          v_matched bigint;
          v_new bigint;
        BEGIN
          PERFORM pg_advisory_xact_lock(job_lock_key('merge_leads'));
          inserted := 0; updated := 0; unchanged := 0; conflicts := 0; not_inserted := 0;

          DROP TABLE IF EXISTS _merge_rows;
          CREATE TEMP TABLE _merge_rows ON COMMIT DROP AS
          SELECT v.*, l1.id AS by_mak, l2.id AS by_apn, l3.id AS by_addr,
                 coalesce(l1.id, l2.id, l3.id) AS match_id
          FROM leads_validated v
          LEFT JOIN leads l1 ON v.mak IS NOT NULL AND l1.mak = v.mak
          LEFT JOIN leads l2 ON v.apn IS NOT NULL AND l2.apn = v.apn
                            AND l2.property_state = v.property_state
          LEFT JOIN leads l3 ON v.addr_hash IS NOT NULL AND l3.addr_hash = v.addr_hash
          WHERE v.upload_id = p_upload_id;
          ALTER TABLE _merge_rows ADD COLUMN rnk integer;
          UPDATE _merge_rows m SET rnk = r.rnk
          FROM (SELECT row_number, row_number() OVER (PARTITION BY match_id ORDER BY row_number) AS rnk
                FROM _merge_rows WHERE match_id IS NOT NULL) r
          WHERE m.row_number = r.row_number;
          ANALYZE _merge_rows;

          -- Keys pointing at another lead than the winner: not copied, recorded.
          INSERT INTO pipeline_events (event_type, stage, upload_id, lead_id, details)
          SELECT 'dedupe_conflict', 'deduped_leads', p_upload_id, m.match_id,
                 jsonb_build_object('row_number', m.row_number, 'key', k.key, 'other_lead_id', k.other,
                                    'rule', 'earlier key of the cascade wins')
          FROM _merge_rows m
          CROSS JOIN LATERAL (VALUES ('mak', m.by_mak), ('apn', m.by_apn), ('addr_hash', m.by_addr)) AS k(key, other)
          WHERE m.match_id IS NOT NULL AND k.other IS NOT NULL AND k.other <> m.match_id;
          GET DIAGNOSTICS v_n = ROW_COUNT;
          conflicts := v_n;

          SELECT count(*) FILTER (WHERE match_id IS NOT NULL), count(*) FILTER (WHERE match_id IS NULL),
                 coalesce(max(rnk), 0)
            INTO v_matched, v_new, v_rounds FROM _merge_rows;

          -- Brokers by territory ZIP and licensed state (first created wins), for leads without one.
          DROP TABLE IF EXISTS _merge_territory;
          CREATE TEMP TABLE _merge_territory ON COMMIT DROP AS
          SELECT DISTINCT ON (z, st) z, st, b.id
          FROM brokers b, unnest(b.territory_zip_codes) AS z, unnest(b.license_states) AS st
          WHERE b.status = 'active'
          ORDER BY z, st, b.created_at, b.id;

          -- Rows matching the same lead are applied one round after another (rarely more than one).
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
                sorted_union(l.email_verification_codes, s.email_verification_codes) AS email_verification_codes,
                sorted_union(l.phone_verification_codes, s.phone_verification_codes) AS phone_verification_codes,
                l.melissa_payload || s.melissa_payload AS melissa_payload,
                coalesce(l.mak, CASE WHEN s.by_mak IS NULL THEN s.mak END) AS mak,
                coalesce(l.apn, CASE WHEN s.by_apn IS NULL AND l.property_state = s.property_state
                                     THEN s.apn END) AS apn,
                coalesce(l.addr_hash, CASE WHEN s.by_addr IS NULL THEN s.addr_hash END) AS addr_hash,
                greatest(l.last_seen_at, p_seen_at) AS last_seen_at,
                coalesce(l.assigned_broker_id, t.id) AS assigned_broker_id
              FROM _merge_rows s JOIN leads l ON l.id = s.match_id
              LEFT JOIN _merge_territory t
                ON t.z = coalesce(l.property_zip, s.property_zip) AND t.st = coalesce(l.property_state, s.property_state)
              WHERE s.rnk = v_round
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
            FROM calc c
            WHERE l.id = c.id
              AND (l.first_name, l.last_name, l.email, l.phone, l.property_address, l.property_city,
                   l.property_state, l.property_zip, l.property_value, l.estimated_equity, l.age,
                   l.owner_occupied, l.source, l.email_verified, l.phone_verified,
                   l.email_verification_codes, l.phone_verification_codes, l.melissa_payload,
                   l.mak, l.apn, l.addr_hash, l.last_seen_at, l.assigned_broker_id)
                  IS DISTINCT FROM
                  (c.first_name, c.last_name, c.email, c.phone, c.property_address, c.property_city,
                   c.property_state, c.property_zip, c.property_value, c.estimated_equity, c.age,
                   c.owner_occupied, c.source, c.email_verified, c.phone_verified,
                   c.email_verification_codes, c.phone_verification_codes, c.melissa_payload,
                   c.mak, c.apn, c.addr_hash, c.last_seen_at, c.assigned_broker_id);
            GET DIAGNOSTICS v_n = ROW_COUNT;
            updated := updated + v_n;
          END LOOP;
          unchanged := v_matched - updated;

          INSERT INTO leads (
            first_name, last_name, email, phone, property_address, property_city, property_state,
            property_zip, property_value, estimated_equity, age, owner_occupied, source,
            assigned_broker_id, email_verified, phone_verified, email_verification_codes,
            phone_verification_codes, melissa_payload, mak, apn, addr_hash, last_seen_at)
          SELECT m.first_name, m.last_name, m.email, m.phone, m.property_address, m.property_city,
                 m.property_state, m.property_zip, m.property_value, m.estimated_equity, m.age,
                 m.owner_occupied, p_source, t.id, m.email_verified, m.phone_verified,
                 m.email_verification_codes, m.phone_verification_codes,  -- sorted and distinct already
                 m.melissa_payload, m.mak, m.apn, m.addr_hash, p_seen_at
          FROM _merge_rows m
          LEFT JOIN _merge_territory t ON t.z = m.property_zip AND t.st = m.property_state
          WHERE m.match_id IS NULL
          ON CONFLICT DO NOTHING;
          GET DIAGNOSTICS v_n = ROW_COUNT;
          inserted := v_n;
          not_inserted := v_new - v_n;
          RETURN NEXT;
        END
        $f$;
"""


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE leads_validated (
          upload_id                 text NOT NULL,
          row_number                integer NOT NULL,
          first_name                text,
          last_name                 text,
          email                     text,
          phone                     text,
          property_address          text NOT NULL,
          property_city             text NOT NULL,
          property_state            text NOT NULL,
          property_zip              text NOT NULL,
          property_value            numeric(14, 2),
          estimated_equity          numeric(14, 2),
          age                       integer,
          owner_occupied            boolean,
          email_verified            boolean NOT NULL DEFAULT false,
          phone_verified            boolean NOT NULL DEFAULT false,
          email_verification_codes  text[] NOT NULL DEFAULT '{}',
          phone_verification_codes  text[] NOT NULL DEFAULT '{}',
          melissa_payload           jsonb NOT NULL DEFAULT '{}',
          mak                       text,
          apn                       text,
          addr_hash                 text,
          duplicate_rows            integer NOT NULL DEFAULT 0,
          PRIMARY KEY (upload_id, row_number)
        );
        SELECT protect_pipeline_table('leads_validated');

        CREATE FUNCTION sorted_union(a text[], b text[]) RETURNS text[]
          LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
            SELECT coalesce(array_agg(DISTINCT x ORDER BY x), '{}')
            FROM unnest(coalesce(a, '{}') || coalesce(b, '{}')) AS x
          $f$;
        """
    )
    op.execute(MERGE_FUNCTION)


def downgrade() -> None:
    op.execute(
        """
        DROP FUNCTION IF EXISTS merge_validated_leads(text, text, timestamptz);
        DROP FUNCTION IF EXISTS sorted_union(text[], text[]);
        DROP TABLE IF EXISTS leads_validated;
        """
    )
