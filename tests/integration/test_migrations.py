"""The schema as migrations: every named object exists, upgrade is idempotent, down/up round-trips —
on the embedded PostgreSQL 18 and on PostgreSQL 15."""

import subprocess
import sys

import psycopg
import pytest

from orchestration.db import migrate, runtime
from orchestration.settings import REPO_ROOT

TABLES = {"brokers", "leads", "leads_staging", "leads_validated", "ingest_replay_guard", "consent_tokens",
          "verification_code_map", "pipeline_dlq", "pipeline_events", "campaign_batches", "campaign_batch_leads"}
LEAD_COLUMNS = {
    "id", "first_name", "last_name", "email", "phone", "property_address", "property_city", "property_state",
    "property_zip", "property_value", "estimated_equity", "age", "owner_occupied", "source",
    "assigned_broker_id", "lead_score", "status", "consent", "consented_at", "consent_method",
    "email_verified", "phone_verified", "email_verification_codes", "phone_verification_codes",
    "campaign_status", "added_to_campaign_at", "last_reply_at", "current_sequence_step", "vapi_call_id",
    "call_attempt_count", "melissa_payload", "mak", "apn", "addr_hash", "created_at", "updated_at", "last_seen_at",
}
INDEXES = {"leads_mak_key", "leads_apn_scope_key", "leads_addr_hash_key", "leads_feeder_idx", "leads_replies_idx",
           "leads_feeder_email_idx",
           "pipeline_events_type_time_idx", "pipeline_events_upload_idx"}
FUNCTIONS = {"try_job_lock", "release_job_lock", "try_job_xact_lock", "cleanup_replay_guards",
             "cleanup_consent_tokens", "sha256_hex", "lead_addr_hash", "merge_validated_leads",
             "set_added_to_campaign_at", "set_updated_at", "feed_campaign", "protect_pipeline_table"}
POLICIES = {("leads", "leads_broker_select"), ("leads", "leads_broker_insert"), ("leads", "leads_broker_update"),
            ("brokers", "brokers_self_select")} | {
    (t, f"{t}_{r}_all") for t in TABLES for r in ("service_role", "pipeline_writer")}


def _names(conn, query):
    return {r[0] if len(r) == 1 else tuple(r) for r in conn.execute(query).fetchall()}


def test_every_named_object_exists(migrated_url):
    with psycopg.connect(migrated_url) as conn:
        assert TABLES <= _names(conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert LEAD_COLUMNS <= _names(conn, "SELECT column_name FROM information_schema.columns "
                                            "WHERE table_name = 'leads'")
        assert _names(conn, "SELECT unnest(enum_range(NULL::campaign_status))::text") == {
            "new", "queued", "active", "replied", "paused", "unsubscribed", "bounced", "do_not_contact", "converted"}
        assert {"consent_requires_timestamp", "lead_score_range"} <= _names(
            conn, "SELECT conname FROM pg_constraint WHERE conrelid = 'leads'::regclass")
        fk = conn.execute("SELECT confdeltype FROM pg_constraint WHERE conrelid = 'leads'::regclass "
                          "AND contype = 'f' AND confrelid = 'brokers'::regclass").fetchone()
        assert fk == ("n",)  # ON DELETE SET NULL
        assert INDEXES <= _names(conn, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
        assert {"set_added_to_campaign_at", "set_updated_at"} <= _names(
            conn, "SELECT tgname FROM pg_trigger WHERE tgrelid = 'leads'::regclass")
        assert {"anon", "authenticated", "service_role", "pipeline_writer"} <= _names(
            conn, "SELECT rolname FROM pg_roles")
        assert POLICIES <= _names(conn, "SELECT tablename, policyname FROM pg_policies")
        assert FUNCTIONS <= _names(conn, "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace")
        assert {"uid", "role", "jwt"} <= _names(conn, "SELECT proname FROM pg_proc "
                                                      "WHERE pronamespace = 'auth'::regnamespace")
        forced = _names(conn, "SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity "
                              "AND relnamespace = 'public'::regnamespace")
        assert TABLES <= forced
        seeds = conn.execute("SELECT count(DISTINCT provider) FILTER (WHERE channel = 'email'), "
                             "count(DISTINCT provider) FILTER (WHERE channel = 'phone') "
                             "FROM verification_code_map").fetchone()
        assert seeds[0] >= 1 and seeds[1] >= 1


def test_downgrade_base_then_upgrade_head_round_trips(server):
    db = server.fresh_database("ec_roundtrip")
    url = server.url(db)
    try:
        migrate.upgrade(url)
        migrate.upgrade(url)  # idempotent: a second upgrade is a no-op
        assert migrate.current(url) == migrate.head()
        with psycopg.connect(url, autocommit=True) as conn:   # what dbt builds on top of the schema
            conn.execute("CREATE SCHEMA IF NOT EXISTS analytics; CREATE MATERIALIZED VIEW analytics.mv_contactable_leads"
                         " AS SELECT id FROM leads WHERE NOT lead_is_suppressed(email, phone, addr_hash)")
        migrate.downgrade(url, "base")
        with psycopg.connect(url) as conn:
            left = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                                "AND tablename <> 'alembic_version'").fetchone()[0]
            auth = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'auth'").fetchone()[0]
            functions = [r[0] for r in conn.execute(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = 'public'")]
        assert left == 0 and auth == 0
        assert functions == [], f"left behind at base: {functions}"
        assert migrate.current(url) is None
        migrate.upgrade(url)
        assert migrate.current(url) == migrate.head()
    finally:
        runtime.drop_database(server.rt, db)


def test_existing_auth_schema_is_left_alone(server):
    """Where a provider (Supabase) owns auth, the migration neither replaces nor drops it."""
    db = server.fresh_database("ec_supabase")
    url = server.url(db)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA auth")
            conn.execute("CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS "
                         "$$ SELECT '00000000-0000-0000-0000-000000000001'::uuid $$")
            conn.execute("CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'x' $$")
        migrate.upgrade(url)
        with psycopg.connect(url) as conn:   # not replaced by the shim's files either
            assert conn.execute("SELECT auth.uid()::text").fetchone()[0].endswith("1")
        migrate.downgrade(url, "base")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT auth.uid()::text").fetchone()[0].endswith("1")
    finally:
        runtime.drop_database(server.rt, db)


def test_recorded_stage_names_follow_the_asset_renames(server):
    """Events and DLQ rows written under the old asset names read with the new ones after 0011."""
    db = server.fresh_database("ec_rename")
    url = server.url(db)
    try:
        migrate.upgrade(url, "0010")
        with psycopg.connect(url) as conn:
            for old in ("raw_upload", "validated_leads", "deduped_leads", "leads_staging"):
                conn.execute("INSERT INTO pipeline_events (event_type, stage) VALUES ('x', %s)", (old,))
                conn.execute("INSERT INTO pipeline_dlq (source, reason, payload) VALUES (%s, 'r', '{}')", (old,))
        migrate.upgrade(url)
        with psycopg.connect(url) as conn:
            stages = sorted(r[0] for r in conn.execute("SELECT stage FROM pipeline_events"))
            sources = sorted(r[0] for r in conn.execute("SELECT source FROM pipeline_dlq"))
        assert stages == sources == ["landed_file", "leads", "leads_staging", "leads_validated"]
        migrate.downgrade(url, "0010")
        with psycopg.connect(url) as conn:
            assert sorted(r[0] for r in conn.execute("SELECT stage FROM pipeline_events")) == \
                ["deduped_leads", "leads_staging", "raw_upload", "validated_leads"]
    finally:
        runtime.drop_database(server.rt, db)


@pytest.mark.xdist_group("project")   # migrates the project's own database, as `equity ui` does
def test_cli_upgrade_is_idempotent():
    """`equity migrate` from the command line twice: both succeed at head."""
    for _ in range(2):
        out = subprocess.run([sys.executable, "-m", "orchestration", "migrate"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert f"revision {migrate.head()}" in out.stdout


def test_0015_rekeys_existing_leads_and_records_what_became_one_property(server):
    """Leads keyed by the older rules get the new keys; two leads the new rules make one property
    keep their data (the older keeps the key, the conflict is recorded); an address suppression
    follows its lead's new key."""
    db = server.fresh_database("ec_rekey")
    url = server.url(db)
    try:
        migrate.upgrade(url, "0014")
        with psycopg.connect(url) as conn:
            conn.execute("""
                INSERT INTO leads (first_name, property_address, property_city, property_state, property_zip,
                                   apn, addr_hash, created_at) VALUES
                  ('Old', '12 FOURTH ST', 'SPRINGFIELD', 'IL', '62704', '06-41', 'old-a', now() - interval '2 days'),
                  ('New', '12 4TH ST', 'SPRINGFIELD', 'IL', '62704', NULL, 'old-b', now() - interval '1 day'),
                  ('Unit', '9 OAK DR APT 4B', 'SPRINGFIELD', 'IL', '62704', '0641', 'old-c', now()),
                  ('Keyless', NULL, NULL, 'IL', NULL, NULL, NULL, now())
            """)
            conn.execute("INSERT INTO suppressions (channel, value, reason, source) "
                         "VALUES ('address', 'old-c', 'litigator', 'test')")
        migrate.upgrade(url)
        with psycopg.connect(url) as conn:
            rows = {r[0]: r[1:] for r in conn.execute(
                "SELECT first_name, property_address, addr_hash, apn, "
                "addr_hash = lead_addr_hash(property_address, property_city, property_state, property_zip) "
                "FROM leads")}
            events = conn.execute("SELECT details->>'key', count(*) FROM pipeline_events "
                                  "WHERE event_type = 'dedupe_conflict' AND stage = 'rekey' GROUP BY 1").fetchall()
            suppressed = conn.execute("SELECT count(*) FROM suppressions s JOIN leads l ON s.value = l.addr_hash "
                                      "WHERE l.first_name = 'Unit'").fetchone()[0]
        assert rows["Old"][:1] == ("12 4TH ST",) and rows["Old"][3] is True and rows["Old"][2] == "641"
        assert rows["New"][0] == "12 4TH ST" and rows["New"][1] is None       # same property: the older keeps the key
        assert rows["Unit"][3] is True and rows["Unit"][2] is None             # 0641 = 641: the older lead keeps it
        assert rows["Keyless"] == (None, None, None, None)
        assert sorted(events) == [("addr_hash", 1), ("apn", 1)]
        assert suppressed == 1
    finally:
        runtime.drop_database(server.rt, db)
