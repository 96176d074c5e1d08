"""Row-level security as a broker, as anon, as the service roles, and for the table owner (FORCE),
on PostgreSQL 18 and 15. Every policy is needed by at least one of these tests."""

import json
import uuid

import psycopg
import pytest

PIPELINE_TABLES = ["leads_staging", "leads_validated", "ingest_replay_guard", "pipeline_dlq", "pipeline_events",
                   "consent_tokens", "verification_code_map", "campaign_batches", "campaign_batch_leads"]
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
    act_as(conn, "authenticated", a)
    assert conn.execute("UPDATE leads SET first_name = 'Own' WHERE id = %s", (leads["a"],)).rowcount == 1
    assert conn.execute("UPDATE leads SET first_name = 'Stolen' WHERE id = %s", (leads["b"],)).rowcount == 0
    conn.execute("RESET ROLE")
    assert conn.execute("SELECT first_name FROM leads WHERE id = %s", (leads["b"],)).fetchone()[0] is None


def test_broker_can_insert_own_lead_but_not_for_another_broker(world):
    conn, a, b, leads = world
    act_as(conn, "authenticated", a)
    conn.execute("INSERT INTO leads (property_address, assigned_broker_id) VALUES ('NEW ST', %s)", (a,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        conn.execute("INSERT INTO leads (property_address, assigned_broker_id) VALUES ('EVIL ST', %s)", (b,))


def test_broker_cannot_reassign_own_lead_away(world):
    conn, a, b, leads = world
    act_as(conn, "authenticated", a)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
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
    assert count(conn, table) == 0


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
