"""Grants and row-level security (enabled and FORCED) on every table holding lead or pipeline data.

Why: brokers reach the data through PostgreSQL directly (as on Supabase). Grants follow Supabase's
shape (the API roles may touch the tables) and RLS decides which rows:
- ``authenticated`` (a broker, identity ``auth.uid()``): SELECT, INSERT and UPDATE only leads whose
  ``assigned_broker_id`` is its own id — USING and WITH CHECK, so it cannot reassign a lead away —
  and SELECT its own ``brokers`` row. Nothing else: pipeline tables show it zero rows.
- ``service_role`` and ``pipeline_writer``: everything, through explicit policies (RLS stays on).
- ``anon``: no policy anywhere, so zero rows everywhere.
FORCE makes the table owner obey the policies too; only superusers and BYPASSRLS roles skip them.
No role is granted TRUNCATE (it ignores RLS).

Revision ID: 0007
Revises: 0006
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = (
    "brokers", "leads", "leads_staging", "ingest_replay_guard", "consent_tokens",
    "verification_code_map", "pipeline_dlq", "pipeline_events",
)
_ARRAY = "ARRAY[" + ", ".join(f"'{t}'" for t in TABLES) + "]"


def upgrade() -> None:
    sqlfiles.apply("protect_pipeline_table")
    op.execute(
        f"""
        SELECT protect_pipeline_table(t::regclass) FROM unnest({_ARRAY}) AS t;

        GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO service_role, pipeline_writer;
        GRANT INSERT, UPDATE ON leads TO authenticated;

        CREATE POLICY leads_broker_select ON leads FOR SELECT TO authenticated
          USING (assigned_broker_id = auth.uid());
        CREATE POLICY leads_broker_insert ON leads FOR INSERT TO authenticated
          WITH CHECK (assigned_broker_id = auth.uid());
        CREATE POLICY leads_broker_update ON leads FOR UPDATE TO authenticated
          USING (assigned_broker_id = auth.uid())
          WITH CHECK (assigned_broker_id = auth.uid());
        CREATE POLICY brokers_self_select ON brokers FOR SELECT TO authenticated
          USING (id = auth.uid());
        """
    )


def downgrade() -> None:
    op.execute(
        f"""
        DROP POLICY IF EXISTS brokers_self_select ON brokers;
        DROP POLICY IF EXISTS leads_broker_update ON leads;
        DROP POLICY IF EXISTS leads_broker_insert ON leads;
        DROP POLICY IF EXISTS leads_broker_select ON leads;
        REVOKE INSERT, UPDATE ON leads FROM authenticated;
        REVOKE USAGE ON ALL SEQUENCES IN SCHEMA public FROM service_role, pipeline_writer;
        DO $rls$
        DECLARE t text;
        BEGIN
          FOREACH t IN ARRAY {_ARRAY} LOOP
            EXECUTE format('DROP POLICY IF EXISTS %I ON %I', t || '_pipeline_writer_all', t);
            EXECUTE format('DROP POLICY IF EXISTS %I ON %I', t || '_service_role_all', t);
            EXECUTE format('REVOKE ALL ON %I FROM anon, authenticated, service_role, pipeline_writer', t);
            EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t);
            EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
          END LOOP;
        END
        $rls$;
        DROP FUNCTION IF EXISTS protect_pipeline_table(regclass);
        """
    )
