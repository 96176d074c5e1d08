"""Inbound events, one suppression list for every channel, consent evidence, campaign pushes.

Why: the pipeline sent leads out but never heard back. ``lead_events`` stores each signed event
(reply, unsubscribe, bounce, complaint, booked) once per (source, webhook id); ``suppressions``
is the one list of e-mails, phones and addresses nobody may contact, whatever lead they are on
(``lead_is_suppressed()`` is the rule, used by the contactable model and the feeder's pick);
vendor DNC and Litigator flags become suppressions at merge (``suppress_from_upload()`` before it,
``unverify_suppressed_phones()`` after it).
``lead_consent_audit`` keeps the permanent evidence of each consent given through a one-time link
(tokens now belong to the batch that sent them);
``campaign_batches`` learns when its export was written, ``campaign_pushes`` records each lead's
push to the campaign tool, so a batch whose export or push did not finish is completed on re-run.
E-mail and phone lookups get partial indexes (events and suppressions find every lead of a
person by them).

Revision ID: 0013
Revises: 0012
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

NEW_TABLES = ("suppressions", "lead_events", "lead_consent_audit", "campaign_pushes")


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE suppressions (
          channel     text NOT NULL CHECK (channel IN ('email', 'phone', 'address')),
          value       text NOT NULL CHECK (value <> ''),
          reason      text NOT NULL CHECK (reason IN ('unsubscribe', 'bounce', 'complaint', 'dnc_internal',
                                                      'dnc_federal', 'litigator', 'erasure')),
          source      text NOT NULL,
          created_at  timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (channel, value, reason)
        );

        CREATE TABLE lead_events (
          id             bigserial PRIMARY KEY,
          source         text NOT NULL,
          webhook_id     text NOT NULL,
          type           text NOT NULL CHECK (type IN ('reply', 'unsubscribe', 'bounce', 'complaint', 'booked')),
          occurred_at    timestamptz NOT NULL,
          lead_id        uuid REFERENCES leads (id) ON DELETE SET NULL,
          email          text,
          phone          text,
          leads_matched  integer NOT NULL DEFAULT 0,
          data           jsonb NOT NULL DEFAULT '{}',
          received_at    timestamptz NOT NULL DEFAULT now(),
          UNIQUE (source, webhook_id)
        );
        CREATE INDEX lead_events_lead_idx ON lead_events (lead_id) WHERE lead_id IS NOT NULL;
        CREATE INDEX lead_events_type_time_idx ON lead_events (type, occurred_at);

        CREATE TABLE lead_consent_audit (
          id            bigserial PRIMARY KEY,
          lead_id       uuid REFERENCES leads (id) ON DELETE SET NULL,
          method        text NOT NULL CHECK (method IN ('form', 'reply_yes')),
          consented_at  timestamptz NOT NULL DEFAULT now(),
          token_hash    text,
          ip            text,
          user_agent    text,
          agreed_text   text NOT NULL
        );
        CREATE INDEX lead_consent_audit_lead_idx ON lead_consent_audit (lead_id);

        ALTER TABLE campaign_batches ADD COLUMN exported_at timestamptz, ADD COLUMN export_path text;
        -- A consent link belongs to the batch that sent it: a re-run of the batch's delivery finds
        -- its live tokens again (their links are derived from the token id and the form secret).
        ALTER TABLE consent_tokens ADD COLUMN batch_id bigint REFERENCES campaign_batches (id) ON DELETE SET NULL;
        CREATE INDEX consent_tokens_batch_idx ON consent_tokens (batch_id) WHERE batch_id IS NOT NULL;

        CREATE TABLE campaign_pushes (
          lead_id      uuid PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
          batch_id     bigint NOT NULL REFERENCES campaign_batches (id) ON DELETE CASCADE,
          status       text NOT NULL CHECK (status IN ('pushed', 'failed')),
          attempts     integer NOT NULL DEFAULT 0,
          http_status  integer,
          error        text,
          pushed_at    timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX campaign_pushes_batch_idx ON campaign_pushes (batch_id);

        CREATE INDEX leads_email_idx ON leads (email) WHERE email IS NOT NULL;
        CREATE INDEX leads_phone_idx ON leads (phone) WHERE phone IS NOT NULL;
        """
    )
    for table in NEW_TABLES:
        op.execute(f"SELECT protect_pipeline_table('{table}')")
    op.execute("GRANT USAGE ON SEQUENCE lead_events_id_seq, lead_consent_audit_id_seq TO service_role, pipeline_writer")
    # feed_campaign gains a parameter (the e-mail re-feed gap): the old signature goes first.
    op.execute("DROP FUNCTION IF EXISTS feed_campaign(date, integer, text)")
    sqlfiles.apply("lead_is_suppressed", "status_rank", "apply_lead_event", "suppress_from_upload",
                   "unverify_suppressed_phones", "feed_campaign")


def downgrade() -> None:
    # dbt's contactable view calls lead_is_suppressed(): it goes first (the next dbt build makes it
    # again from the model of the code being run).
    op.execute(
        """
        DROP MATERIALIZED VIEW IF EXISTS analytics.mv_contactable_leads;
        DROP FUNCTION IF EXISTS feed_campaign(date, integer, text, integer);
        DROP FUNCTION IF EXISTS unverify_suppressed_phones(text);
        DROP FUNCTION IF EXISTS suppress_from_upload(text);
        DROP FUNCTION IF EXISTS apply_lead_event(text, text, text, timestamptz, text, text, uuid, boolean, jsonb);
        DROP FUNCTION IF EXISTS status_rank(campaign_status);
        DROP FUNCTION IF EXISTS lead_is_suppressed(text, text, text);
        DROP INDEX IF EXISTS leads_phone_idx;
        DROP INDEX IF EXISTS leads_email_idx;
        DROP TABLE IF EXISTS campaign_pushes;
        ALTER TABLE consent_tokens DROP COLUMN IF EXISTS batch_id;
        ALTER TABLE campaign_batches DROP COLUMN IF EXISTS export_path, DROP COLUMN IF EXISTS exported_at;
        DROP TABLE IF EXISTS lead_consent_audit;
        DROP TABLE IF EXISTS lead_events;
        DROP TABLE IF EXISTS suppressions;
        """
    )
    # Below this revision the database has no feed_campaign() until it is upgraded again: each
    # function has one definition (its file), and the three-argument text is gone.
