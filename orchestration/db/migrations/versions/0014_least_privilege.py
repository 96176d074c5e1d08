"""Least privilege: no function is callable by default, brokers change only their own columns.

Why: PostgreSQL grants EXECUTE on every new function to PUBLIC, so ``anon`` could call
``try_job_lock('campaign_feed')`` and hold the feeder's lock, and a broker could call the merge's
helpers. And the brokers' UPDATE/INSERT grant covered every column of their own leads: a broker
could raise ``lead_score`` to jump the feed, forge ``email_verified``, ``consent`` or
``campaign_status``, and insert a lead carrying a MAK or APN from a vendor file not yet ingested —
the upload then merged into the broker's lead (a property taken over before it arrived), and a
unique-violation told it which keys exist.

- EXECUTE on every function of ``public`` is revoked from PUBLIC, ``anon`` and ``authenticated``
  and granted to ``pipeline_writer`` and ``service_role``; default privileges do the same for
  functions created later. Triggers still fire for brokers (EXECUTE is checked when a trigger is
  created, not when it fires); the policies call only ``auth.*``.
- Brokers may UPDATE only their own working columns, ``broker_notes`` and ``broker_follow_up_at``
  (new here), and INSERT a lead of their own with contact and address columns only: never a key
  (``mak``, ``apn``, ``addr_hash``), a score, a verification, consent or campaign field. Such a lead
  can never match a vendor's record, so it cannot claim a property; row-level security still binds
  every row to the broker's own id. Brokers reach the database through an API that sets verified
  JWT claims (PostgREST), never a direct SQL login: a session can set its own claims.

Revision ID: 0014
Revises: 0013
"""
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BROKER_UPDATE = ("broker_notes", "broker_follow_up_at")
BROKER_INSERT = ("first_name", "last_name", "email", "phone", "property_address", "property_city",
                 "property_state", "property_zip", "assigned_broker_id", *BROKER_UPDATE)


def upgrade() -> None:
    op.execute(
        f"""
        REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC, anon, authenticated;
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO pipeline_writer, service_role;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC, anon, authenticated;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO pipeline_writer, service_role;

        ALTER TABLE leads ADD COLUMN broker_notes text, ADD COLUMN broker_follow_up_at timestamptz;
        REVOKE INSERT, UPDATE ON leads FROM authenticated;
        GRANT UPDATE ({", ".join(BROKER_UPDATE)}) ON leads TO authenticated;
        GRANT INSERT ({", ".join(BROKER_INSERT)}) ON leads TO authenticated;
        """
    )


def downgrade() -> None:
    op.execute(
        f"""
        REVOKE INSERT ({", ".join(BROKER_INSERT)}) ON leads FROM authenticated;
        REVOKE UPDATE ({", ".join(BROKER_UPDATE)}) ON leads FROM authenticated;
        GRANT INSERT, UPDATE ON leads TO authenticated;
        ALTER TABLE leads DROP COLUMN IF EXISTS broker_follow_up_at, DROP COLUMN IF EXISTS broker_notes;

        ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE EXECUTE ON FUNCTIONS FROM pipeline_writer, service_role;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO PUBLIC;
        """
    )
