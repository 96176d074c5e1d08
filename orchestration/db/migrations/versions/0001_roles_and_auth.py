"""Roles and Supabase-compatible auth functions.

Why: row-level security policies name the roles ``anon``, ``authenticated``, ``service_role`` and
``pipeline_writer`` and call ``auth.uid()`` / ``auth.role()``. On Supabase those exist already; on a
plain PostgreSQL (the embedded server, RDS) we create them so that the very same policies run
everywhere. The functions read the ``request.jwt.claims`` setting exactly as PostgREST sets it.

Roles are cluster-wide (shared by every database of the server), so downgrade leaves them in place;
the ``auth`` schema is dropped on downgrade only when this migration created it (marked by a comment).
The shim's functions are in ``orchestration/db/sql/auth.*.sql``.

Revision ID: 0001
Revises:
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SHIM_MARK = sqlfiles.AUTH_SHIM_MARK


def upgrade() -> None:
    op.execute(
        """
        DO $roles$
        DECLARE r text;
        BEGIN
          FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role', 'pipeline_writer'] LOOP
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
              EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            END IF;
          END LOOP;
          -- A non-superuser migrator (as on Supabase/RDS) must be able to SET ROLE to the pipeline role.
          IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
             AND NOT pg_has_role(current_user, 'pipeline_writer', 'MEMBER') THEN
            EXECUTE format('GRANT pipeline_writer TO %I', current_user);
          END IF;
        END
        $roles$;
        """
    )
    has_auth = op.get_bind().exec_driver_sql(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'auth')").scalar()
    if has_auth:
        return  # Supabase (or another provider) owns auth: use theirs.
    op.execute(f"CREATE SCHEMA auth; COMMENT ON SCHEMA auth IS '{SHIM_MARK}';")
    sqlfiles.apply(*sqlfiles.AUTH_SHIM)
    op.execute(
        """
        GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role, pipeline_writer;
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA auth TO anon, authenticated, service_role, pipeline_writer;
        """
    )


def downgrade() -> None:
    op.execute(
        f"""
        DO $auth$
        BEGIN
          IF obj_description('auth'::regnamespace, 'pg_namespace') = '{SHIM_MARK}' THEN
            DROP SCHEMA auth CASCADE;
          END IF;
        EXCEPTION WHEN undefined_object THEN
          NULL;
        END
        $auth$;
        """
    )
