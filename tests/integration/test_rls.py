"""Row-level security as a broker, as anon, as the service roles, and for the table owner (FORCE),
on PostgreSQL 18 and 15. Every policy is needed by at least one of these tests."""

import json
import uuid

import psycopg
import pytest

from orchestration.db import sqlfiles

PIPELINE_TABLES = ["leads_staging", "leads_validated", "ingest_replay_guard", "pipeline_dlq", "pipeline_events",
                   "consent_tokens", "verification_code_map", "campaign_batches", "campaign_batch_leads",
                   "suppressions", "lead_events", "lead_consent_audit", "campaign_pushes"]
ALL_TABLES = ["leads", "brokers", *PIPELINE_TABLES]


@pytest.fixture
def world(migrated_url):
    """Brokers A and B with two leads each, and one row in every pipeline table; rolled back after."""
    with psycopg.connect(migrated_url) as conn:
        a, b = uuid.uuid4(), uuid.uuid4()
        conn.execute("INSERT INTO brokers (id, company_name) VALUES (%s, 'A'), (%s, 'B')", (a, b))
        leads = {}
        for owner, tag in ((a, "a"), (a, "a2"), (b, "b"), (b, "b2")):
            leads[tag] = conn.execute("INSERT INTO leads (property_address, assigned_broker_id) VALUES (%s, %s) "
                                      "RETURNING id", (f"{tag} ST", owner)).fetchone()[0]
        conn.execute("INSERT INTO leads_staging (upload_id, row_number) VALUES ('u1', 1)")
        conn.execute("INSERT INTO leads_validated (upload_id, row_number, property_address, property_city,"
                     " property_state, property_zip) VALUES ('u1', 1, 'X', 'Y', 'CA', '90001')")
        conn.execute("INSERT INTO ingest_replay_guard (content_sha256, source) VALUES (%s, 'generic')", ("c" * 64,))
        conn.execute("INSERT INTO pipeline_dlq (source, reason) VALUES ('t', 'r')")
        conn.execute("INSERT INTO pipeline_events (event_type, broker_id) VALUES ('t', %s)", (a,))
        conn.execute("INSERT INTO consent_tokens (lead_id, nonce_hash) VALUES (%s, %s)", (leads["a"], "d" * 64))
        batch = conn.execute("INSERT INTO campaign_batches (feed_date, lead_ids) VALUES ('2026-03-06', %s) "
                             "RETURNING id", ([leads["a"]],)).fetchone()[0]
        conn.execute("INSERT INTO campaign_batch_leads (lead_id, batch_id, feed_date, broker_id) "
                     "VALUES (%s, %s, '2026-03-06', %s)", (leads["a"], batch, a))
        conn.execute("INSERT INTO suppressions (channel, value, reason, source) VALUES"
                     " ('email', 'x@example.com', 'unsubscribe', 't')")
        conn.execute("INSERT INTO lead_events (source, webhook_id, type, occurred_at, lead_id)"
                     " VALUES ('t', 'm1', 'reply', now(), %s)", (leads["a"],))
        conn.execute("INSERT INTO lead_consent_audit (lead_id, method, agreed_text) VALUES (%s, 'form', 't')",
                     (leads["a"],))
        conn.execute("INSERT INTO campaign_pushes (lead_id, batch_id, status) VALUES (%s, %s, 'pushed')",
                     (leads["a"], batch))
        yield conn, a, b, leads
        conn.rollback()


def act_as(conn, role, sub=None):
    claims = {"role": role, **({"sub": str(sub)} if sub else {})}
    conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
    conn.execute(f"SET LOCAL ROLE {role}")


def count(conn, table):
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_broker_sees_only_own_leads(world):
    conn, a, b, leads = world
    act_as(conn, "authenticated", a)
    rows = {r[0] for r in conn.execute("SELECT id FROM leads").fetchall()}
    assert rows == {leads["a"], leads["a2"]}
    assert conn.execute("SELECT count(*) FROM brokers").fetchone()[0] == 1  # its own broker row


def test_broker_can_update_own_lead_but_not_the_other_brokers(world):
    conn, a, b, leads = world
    before = conn.execute("SELECT updated_at FROM leads WHERE id = %s", (leads["a"],)).fetchone()[0]
    act_as(conn, "authenticated", a)
    assert conn.execute("UPDATE leads SET broker_notes = 'Own', broker_follow_up_at = now() + interval '2 days'"
                        " WHERE id = %s", (leads["a"],)).rowcount == 1
    assert conn.execute("UPDATE leads SET broker_notes = 'Stolen' WHERE id = %s", (leads["b"],)).rowcount == 0
    conn.execute("RESET ROLE")
    assert conn.execute("SELECT broker_notes FROM leads WHERE id = %s", (leads["b"],)).fetchone()[0] is None
    # the lead's own triggers still fire for a broker's update
    assert conn.execute("SELECT updated_at FROM leads WHERE id = %s", (leads["a"],)).fetchone()[0] >= before


@pytest.mark.parametrize("assignment", [
    "lead_score = 100", "email_verified = true", "phone_verified = true", "consent = true, consented_at = now()",
    "consent_method = 'form'", "campaign_status = 'queued'", "mak = 'M1'", "apn = 'A1'", "addr_hash = repeat('a', 64)",
    "email = 'x@example.com'", "first_name = 'Own'", "melissa_payload = '{}'", "last_reply_at = now()",
])
def test_broker_cannot_write_the_columns_the_pipeline_owns(world, assignment):
    conn, a, b, leads = world
    act_as(conn, "authenticated", a)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        conn.execute(f"UPDATE leads SET {assignment} WHERE id = %s", (leads["a"],))


@pytest.mark.parametrize("key", ["mak", "apn", "addr_hash"])
def test_broker_cannot_claim_a_property_by_inserting_its_key(world, key):
    """The hijack: a MAK, APN or address key from a vendor file not yet ingested, inserted on the
    broker's own lead, would make the upload merge into it. No key column is insertable, so the
    key cannot be planted, and no unique-violation answers whether a key exists."""
    conn, a, b, leads = world
    conn.execute(f"INSERT INTO leads ({key}, property_state) VALUES (repeat('k', 64), 'CA')")   # the vendor's
    act_as(conn, "authenticated", a)
    for value in ("repeat('k', 64)", "repeat('z', 64)"):      # existing and new: the same answer
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute(f"INSERT INTO leads ({key}, property_state, assigned_broker_id)"
                         f" VALUES ({value}, 'CA', %s)", (a,))
        conn.execute("ROLLBACK")
        act_as(conn, "authenticated", a)


def _public_functions(conn) -> list[tuple[int, str]]:
    return conn.execute("SELECT p.oid::int, p.oid::regprocedure::text FROM pg_proc p"
                        " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'").fetchall()


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_the_api_roles_can_call_no_function(world, role):
    conn, a, *_ = world
    functions = _public_functions(conn)
    assert len(functions) == len([o for o in sqlfiles.objects() if o.schema == "public"])
    callable_ = [name for oid, name in functions if conn.execute(
        "SELECT has_function_privilege(%s, %s::oid, 'EXECUTE')", (role, oid)).fetchone()[0]]
    assert callable_ == []
    act_as(conn, role, a if role == "authenticated" else None)
    for call in ("SELECT try_job_lock('campaign_feed')", "SELECT try_job_xact_lock('merge_leads')",
                 "SELECT job_lock_key('campaign_feed')", "SELECT cleanup_consent_tokens()"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for function"):
            conn.execute(call)
        conn.execute("ROLLBACK")
        act_as(conn, role, a if role == "authenticated" else None)


def test_the_pipeline_roles_can_call_every_function(world):
    conn, *_ = world
    for role in ("pipeline_writer", "service_role"):
        assert all(conn.execute("SELECT has_function_privilege(%s, %s::oid, 'EXECUTE')", (role, oid)).fetchone()[0]
                   for oid, _ in _public_functions(conn)), role


def test_broker_can_insert_own_lead_but_not_for_another_broker(world):
    conn, a, b, leads = world
    act_as(conn, "authenticated", a)
    conn.execute("INSERT INTO leads (property_address, assigned_broker_id) VALUES ('NEW ST', %s)", (a,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        conn.execute("INSERT INTO leads (property_address, assigned_broker_id) VALUES ('EVIL ST', %s)", (b,))


def test_broker_cannot_write_an_e_mail_or_phone_that_would_be_stored_unsealed(world):
    """No database role holds the keys, so a value a broker wrote would sit in plain text beside
    sealed ones: brokers' inserts carry no e-mail or phone (their API seals them)."""
    conn, a, b, leads = world
    act_as(conn, "authenticated", a)
    for column, value in (("email", "new@example.com"), ("phone", "+14155550100")):
        conn.execute("SAVEPOINT s")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table leads"):
            conn.execute(f"INSERT INTO leads (property_address, {column}, assigned_broker_id) VALUES ('NEW ST', %s, %s)",
                         (value, a))
        conn.execute("ROLLBACK TO SAVEPOINT s")
    conn.execute("INSERT INTO leads (property_address, first_name, assigned_broker_id) VALUES ('NEW ST', 'Al', %s)", (a,))


def test_broker_cannot_reassign_own_lead_away(world):
    conn, a, b, leads = world
    act_as(conn, "authenticated", a)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        conn.execute("UPDATE leads SET assigned_broker_id = %s WHERE id = %s", (b, leads["a"]))


def test_broker_cannot_delete_leads(world):
    conn, a, b, leads = world
    act_as(conn, "authenticated", a)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM leads WHERE id = %s", (leads["a"],))


@pytest.mark.parametrize("table", PIPELINE_TABLES)
def test_broker_cannot_read_pipeline_tables(world, table):
    conn, a, b, leads = world
    assert count(conn, table) >= 1
    act_as(conn, "authenticated", a)
    assert count(conn, table) == 0


@pytest.mark.parametrize("table", ALL_TABLES)
def test_anon_sees_nothing(world, table):
    conn, *_ = world
    act_as(conn, "anon")
    # not zero rows through RLS alone: no privilege at all, so a missing policy could not leak
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        count(conn, table)


def test_anon_holds_no_privilege_on_anything_of_the_project(world):
    conn, *_ = world
    held = conn.execute(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND ("
        "   (c.relkind <> 'S' AND (has_table_privilege('anon', c.oid, 'SELECT') OR has_table_privilege('anon', c.oid, 'INSERT')"
        "     OR has_table_privilege('anon', c.oid, 'UPDATE') OR has_table_privilege('anon', c.oid, 'DELETE')"
        "     OR has_table_privilege('anon', c.oid, 'TRUNCATE')))"
        "   OR (c.relkind = 'S' AND has_sequence_privilege('anon', c.oid, 'USAGE')))").fetchall()
    assert held == []
    assert not conn.execute("SELECT has_table_privilege('anon', 'alembic_version', 'SELECT')").fetchone()[0]
    own_auth = conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'auth' AND pg_get_userbyid(p.proowner) = current_user"
        "   AND has_function_privilege('anon', p.oid, 'EXECUTE')").fetchall()
    assert own_auth == []
    # what the migrating role creates later gives anon nothing either (Supabase's defaults would)
    conn.execute("CREATE TABLE later_table (id int)")
    conn.execute("CREATE SEQUENCE later_seq")
    assert conn.execute("SELECT has_table_privilege('anon', 'later_table', 'SELECT'),"
                        " has_sequence_privilege('anon', 'later_seq', 'USAGE')").fetchone() == (False, False)
    conn.execute("ROLLBACK")


@pytest.mark.parametrize("role", ["service_role", "pipeline_writer"])
@pytest.mark.parametrize("table", ALL_TABLES)
def test_service_roles_see_every_row(world, role, table):
    conn, *_ = world
    total = count(conn, table)
    act_as(conn, role)
    assert count(conn, table) == total > 0


@pytest.mark.parametrize("role", ["service_role", "pipeline_writer"])
def test_service_roles_write_any_lead(world, role):
    conn, a, b, leads = world
    act_as(conn, role)
    assert conn.execute("UPDATE leads SET assigned_broker_id = %s WHERE id = %s", (a, leads["b"])).rowcount == 1
    conn.execute("INSERT INTO leads (property_address, assigned_broker_id) VALUES ('SVC ST', %s)", (b,))
    conn.execute("INSERT INTO pipeline_events (event_type) VALUES ('svc')")


def test_table_owner_is_bound_too(world):
    """FORCE ROW LEVEL SECURITY: a (non-superuser) owner without a policy sees nothing."""
    conn, *_ = world
    conn.execute("CREATE ROLE ec_test_owner NOLOGIN")
    conn.execute("ALTER TABLE leads OWNER TO ec_test_owner")
    conn.execute("ALTER TABLE pipeline_dlq OWNER TO ec_test_owner")
    conn.execute("SET LOCAL ROLE ec_test_owner")
    assert count(conn, "leads") == 0
    assert count(conn, "pipeline_dlq") == 0
