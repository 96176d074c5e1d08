"""The schema installs as a hosted database's owner, who is not a superuser — on the embedded
PostgreSQL 18 and on PostgreSQL 15.

Two shapes, built by a superuser the way the provider builds them before anyone migrates:

- ``supabase``: Supabase's init scripts — the API roles exist, ``auth`` (with ``auth.uid()`` /
  ``auth.role()`` / ``auth.jwt()``) belongs to ``supabase_auth_admin``, the database owner is
  ``NOSUPERUSER CREATEROLE BYPASSRLS`` and is a member of the API roles, and default privileges hand every
  new table, sequence and function in ``public`` to ``anon``, ``authenticated`` and ``service_role``;
- ``rds``: RDS's master user — ``NOSUPERUSER CREATEROLE CREATEDB``, no provider roles, no ``auth``.

The full chain goes up, down to base, and up again as that owner; afterwards ``anon`` holds nothing,
and a broker reads exactly their own leads through the policies, as PostgREST would run the query."""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from dataclasses import replace

import psycopg
import pytest

from orchestration.db import migrate, runtime

SUPABASE_ROLES = ("anon", "authenticated", "service_role", "supabase_auth_admin")


def _create_role(conn, name: str, options: str) -> None:
    """CREATE ROLE that tolerates another worker creating the same cluster-wide role first."""
    conn.execute(f"""
        DO $r$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') THEN
            CREATE ROLE {name} {options};
          END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $r$""")


_SUPABASE_AUTH = """
    CREATE SCHEMA auth AUTHORIZATION supabase_auth_admin;
    CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
      SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                      (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid $$;
    CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
      SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                      (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text $$;
    CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
      SELECT coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                      nullif(current_setting('request.jwt.claims', true), ''))::jsonb $$;
    ALTER FUNCTION auth.uid() OWNER TO supabase_auth_admin;
    ALTER FUNCTION auth.role() OWNER TO supabase_auth_admin;
    ALTER FUNCTION auth.jwt() OWNER TO supabase_auth_admin;
    GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role, {owner};
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA auth TO anon, authenticated, service_role, {owner};
    ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
    ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
    ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
"""


@contextmanager
def hosted_database(server, shape: str):
    """A database shaped like ``shape``: URLs for its non-superuser owner and for the superuser."""
    owner = f"ec_owner_{uuid.uuid4().hex[:8]}"
    db = f"ec_hosted_{uuid.uuid4().hex[:8]}"
    admin = server.rt
    with psycopg.connect(admin.url("postgres"), autocommit=True) as conn:
        if shape == "supabase":
            for role in SUPABASE_ROLES:
                _create_role(conn, role, "NOLOGIN")
            conn.execute(f"CREATE ROLE {owner} LOGIN NOSUPERUSER CREATEROLE CREATEDB BYPASSRLS")
            conn.execute(f"GRANT anon, authenticated, service_role TO {owner} WITH ADMIN OPTION")
        else:
            conn.execute(f"CREATE ROLE {owner} LOGIN NOSUPERUSER CREATEROLE CREATEDB")
        # Roles are cluster-wide and other tests on this server have made the project's own roles as a
        # superuser. On a hosted cluster they would be this owner's to hand out: make them so here.
        for role in ("anon", "authenticated", "service_role", "pipeline_writer"):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                conn.execute(f"GRANT {role} TO {owner} WITH ADMIN OPTION")
        conn.execute(f"CREATE DATABASE {db} OWNER {owner}")
    if shape == "supabase":
        with psycopg.connect(admin.url(db), autocommit=True) as conn:
            conn.execute(_SUPABASE_AUTH.format(owner=owner))
    with psycopg.connect(admin.url(db), autocommit=True) as conn:
        conn.execute(f"ALTER SCHEMA public OWNER TO {owner}")  # as on PostgreSQL 15+: the owner's own schema
    try:
        yield replace(admin, user=owner, password="").url(db), admin.url(db)
    finally:
        runtime.drop_database(admin, db)
        with psycopg.connect(admin.url("postgres"), autocommit=True) as conn:
            conn.execute(f"DROP ROLE IF EXISTS {owner}")


def _anon_privileges(conn) -> list[str]:
    """Every privilege anon holds on a table, sequence or function of the project."""
    rows = conn.execute("""
        SELECT 'table ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
           AND (has_table_privilege('anon', c.oid, 'SELECT') OR has_table_privilege('anon', c.oid, 'INSERT')
                OR has_table_privilege('anon', c.oid, 'UPDATE') OR has_table_privilege('anon', c.oid, 'DELETE')
                OR has_table_privilege('anon', c.oid, 'TRUNCATE'))
        UNION ALL
        SELECT 'sequence ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public'   -- CASE: the planner may test the privilege before the kind
           AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege('anon', c.oid, 'USAGE') END
        UNION ALL
        SELECT 'function ' || p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public' AND has_function_privilege('anon', p.oid, 'EXECUTE')
        ORDER BY 1""").fetchall()
    return [r[0] for r in rows]


def _staged_statistics(admin_url: str) -> set[str]:
    """Columns of leads_staging with statistics, read from the catalog (pg_stats hides them from an
    owner under forced row-level security)."""
    with psycopg.connect(admin_url) as conn:
        return {r[0] for r in conn.execute(
            "SELECT a.attname FROM pg_statistic s JOIN pg_attribute a ON a.attrelid = s.starelid "
            "AND a.attnum = s.staattnum WHERE s.starelid = 'leads_staging'::regclass "
            "AND a.attname NOT IN ('upload_id', 'row_number', 'source_profile', 'loaded_at')")}


def _broker_reads(url: str, broker: uuid.UUID) -> list[str]:
    """Leads a broker reads the PostgREST way: SET ROLE authenticated plus the JWT claims."""
    claims = json.dumps({"sub": str(broker), "role": "authenticated"})
    with psycopg.connect(url) as conn:
        conn.execute("SET ROLE authenticated")
        conn.execute("SELECT set_config('request.jwt.claims', %s, true), "
                     "set_config('request.jwt.claim.sub', %s, true)", (claims, str(broker)))
        return sorted(r[0] for r in conn.execute("SELECT first_name FROM leads"))


@pytest.mark.parametrize("shape", ["supabase", "rds"])
def test_full_chain_installs_as_a_non_superuser_owner(server, shape):
    with hosted_database(server, shape) as (url, admin_url):
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (False,)
        migrate.upgrade(url, "0017")
        with psycopg.connect(url) as conn:   # a staged file whose statistics hold sample e-mails
            conn.execute("SET ROLE pipeline_writer")
            conn.execute("INSERT INTO leads_staging (upload_id, row_number, email, phone, raw) SELECT gen_random_uuid(),"
                         " i, 'p' || i || '@x.test', '555' || i, '{}' FROM generate_series(1, 200) i")
            conn.execute("RESET ROLE")
            conn.execute("ANALYZE leads_staging")
            conn.commit()
        assert _staged_statistics(admin_url) >= {"email", "phone"}
        migrate.upgrade(url)
        assert migrate.current(url) == migrate.head()
        assert _staged_statistics(admin_url) == set()   # 0018 dropped them, not touching pg_statistic
        migrate.downgrade(url, "base")
        assert migrate.current(url) is None
        migrate.upgrade(url)
        assert migrate.current(url) == migrate.head()

        with psycopg.connect(url) as conn:
            assert _anon_privileges(conn) == []
            mine, theirs = uuid.uuid4(), uuid.uuid4()
            conn.execute("SET ROLE pipeline_writer")
            for broker in (mine, theirs):
                conn.execute("INSERT INTO brokers (id, company_name, email) VALUES (%s, %s, %s)",
                             (broker, f"co {broker.hex[:4]}", f"{broker.hex[:6]}@broker.test"))
            conn.execute("INSERT INTO leads (first_name, property_address, assigned_broker_id) VALUES "
                         "('Ada', '1 A St', %s), ('Bo', '2 B St', %s), ('Cy', '3 C St', %s)", (mine, mine, theirs))
            conn.commit()
            if shape == "supabase":   # Supabase's own auth functions were used, not replaced
                assert conn.execute("SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'uid' "
                                    "AND pronamespace = 'auth'::regnamespace").fetchone() == ("supabase_auth_admin",)
        assert _broker_reads(url, mine) == ["Ada", "Bo"]
        assert _broker_reads(url, theirs) == ["Cy"]
