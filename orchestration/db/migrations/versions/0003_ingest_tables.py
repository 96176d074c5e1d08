"""Ingest tables: leads_staging, ingest_replay_guard, verification_code_map (with seed codes).

Why: an upload is COPYed as text into ``leads_staging`` (one row per CSV row, every original column
kept in ``raw``) before validation, so a bad row is visible and replayable instead of lost.
``ingest_replay_guard`` refuses the same bytes twice within 7 days. ``verification_code_map`` turns a
skip-trace provider's verification codes into ``is_verified``: a provider changing its codes is a
data change (insert rows), not a code change.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE leads_staging (
          upload_id         text NOT NULL,
          row_number        integer NOT NULL,
          source_profile    text,
          addr_hash         text,
          mak               text,
          apn               text,
          first_name        text,
          last_name         text,
          property_address  text,
          property_unit     text,
          property_city     text,
          property_state    text,
          property_zip      text,
          property_county   text,
          property_value    text,
          estimated_equity  text,
          age               text,
          owner_occupied    text,
          litigator         text,
          email             text,
          email_code        text,
          email_2           text,
          email_2_code      text,
          email_3           text,
          email_3_code      text,
          email_4           text,
          email_4_code      text,
          phone             text,
          phone_code        text,
          phone_type        text,
          phone_dnc         text,
          phone_2           text,
          phone_2_code      text,
          phone_2_type      text,
          phone_2_dnc       text,
          phone_3           text,
          phone_3_code      text,
          phone_3_type      text,
          phone_3_dnc       text,
          phone_4           text,
          phone_4_code      text,
          phone_4_type      text,
          phone_4_dnc       text,
          phone_5           text,
          phone_5_code      text,
          phone_5_type      text,
          phone_5_dnc       text,
          raw               jsonb NOT NULL DEFAULT '{}',
          loaded_at         timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (upload_id, row_number)
        );

        CREATE TABLE ingest_replay_guard (
          content_sha256  text PRIMARY KEY CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
          received_at     timestamptz NOT NULL DEFAULT now(),
          source          text NOT NULL,
          upload_id       text,
          headers         jsonb NOT NULL DEFAULT '{}'
        );
        CREATE INDEX ingest_replay_guard_received_idx ON ingest_replay_guard (received_at);

        CREATE TABLE verification_code_map (
          provider     text NOT NULL,
          channel      text NOT NULL CHECK (channel IN ('email', 'phone')),
          code         text NOT NULL,
          is_verified  boolean NOT NULL,
          version      integer NOT NULL DEFAULT 1,
          note         text,
          updated_at   timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (provider, channel, code)
        );

        -- Codes are stored lower-case; lookups lower-case the incoming code.
        INSERT INTO verification_code_map (provider, channel, code, is_verified, note) VALUES
          ('generic',    'email', 'valid',            true,  'mailbox confirmed'),
          ('generic',    'email', 'unknown',          false, 'catch-all or no answer'),
          ('generic',    'email', 'invalid',          false, 'mailbox does not exist'),
          ('generic',    'phone', 'connected',        true,  'line connected'),
          ('generic',    'phone', 'disconnected',     false, 'line disconnected'),
          ('generic',    'phone', 'unknown',          false, 'not checked'),
          ('propstream', 'email', 'valid',            true,  NULL),
          ('propstream', 'email', 'unknown',          false, NULL),
          ('propstream', 'email', 'invalid',          false, NULL),
          ('propstream', 'phone', 'connected',        true,  NULL),
          ('propstream', 'phone', 'disconnected',     false, NULL),
          ('batchdata',  'email', 'deliverable',      true,  NULL),
          ('batchdata',  'email', 'risky',            false, NULL),
          ('batchdata',  'email', 'undeliverable',    false, NULL),
          ('batchdata',  'phone', 'connected',        true,  NULL),
          ('batchdata',  'phone', 'mobile_connected', true,  NULL),
          ('batchdata',  'phone', 'disconnected',     false, NULL);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE IF EXISTS verification_code_map;
        DROP TABLE IF EXISTS ingest_replay_guard;
        DROP TABLE IF EXISTS leads_staging;
        """
    )
