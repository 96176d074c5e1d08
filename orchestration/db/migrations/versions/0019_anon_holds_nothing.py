"""Least privilege for ``anon``: no privilege on any table, sequence or function of the project.

Why: on Supabase ``anon`` is the public API key shipped in web pages. It held SELECT on every table
(row-level security without a policy gave it zero rows), and Supabase's default privileges hand
every new table in ``public`` to it, ``alembic_version`` (which has no row-level security) too, so
one mistaken policy or one table without RLS would have been readable by anyone. Now:

- every privilege ``anon`` holds on the tables, views and sequences of ``public`` is revoked
  (``protect_pipeline_table`` no longer grants it SELECT), and functions stay revoked (0014);
- the migrating role's default privileges in ``public`` give ``anon`` nothing on tables,
  sequences or functions created later (Supabase sets such defaults for its owner role);
- ``alembic_version`` is readable by the migrating role only;
- EXECUTE on the project's own ``auth`` shim functions (where the project created them, not
  Supabase's) is revoked from ``anon`` and from PUBLIC (which every role, anon included, inherits);
  the roles the policies run as keep their explicit grants (0001). No policy names ``anon``.

``authenticated`` (brokers) keeps SELECT where RLS gives it its own rows.

Revision ID: 0019
Revises: 0018
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_ANON_SELECT = ("TO authenticated', t);", "TO anon, authenticated', t);")


def upgrade() -> None:
    sqlfiles.apply("protect_pipeline_table")
    op.execute(
        """
        REVOKE ALL ON ALL TABLES IN SCHEMA public FROM anon;
        REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM anon;
        REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM anon;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM anon;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON FUNCTIONS FROM anon;
        REVOKE ALL ON alembic_version FROM PUBLIC, anon, authenticated;
        DO $anon$
        DECLARE f regprocedure;
        BEGIN
          FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname = 'auth' AND pg_get_userbyid(p.proowner) = current_user LOOP
            EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC, anon', f);
          END LOOP;
        END
        $anon$;
        """
    )


def downgrade() -> None:
    sqlfiles.apply_text(sqlfiles.as_before("protect_pipeline_table", _ANON_SELECT, revision="0019"))
    op.execute(
        """
        DO $anon$
        DECLARE t regclass;
        BEGIN
          FOR t IN SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relrowsecurity LOOP
            EXECUTE format('GRANT SELECT ON %s TO anon', t);
          END LOOP;
        END
        $anon$;
        DO $anon$
        DECLARE f regprocedure;
        BEGIN
          FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname = 'auth' AND pg_get_userbyid(p.proowner) = current_user LOOP
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC, anon', f);
          END LOOP;
        END
        $anon$;
        """
    )
