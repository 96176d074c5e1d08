"""Campaign batches and feed_campaign(): the weekday feeder's exactly-once, capped pick.

Why: the 06:00 PT feeder must move at most ``daily_cap`` leads per feed date into the campaign and
never the same lead twice, even when runs are retried, overlap, or a missed week is backfilled.
- ``campaign_batches`` records each batch (feed date, lead ids, run id); ``campaign_batch_leads``
  has one row per fed lead with the lead id as PRIMARY KEY — a lead can be fed once, ever.
- ``feed_campaign(date, cap, run_id)`` runs in the caller's transaction under a transaction-level
  advisory lock, so concurrent executions serialise: each tops the date up to the cap and the
  total for a date never passes it. It picks by score (ties: lead id), respects each broker's
  ``max_leads_per_week`` (Monday-based week of the feed date), re-checks the live campaign_status
  (the view can be hours old), marks the leads 'active' (the trigger stamps added_to_campaign_at)
  and records the batch.
- ``leads_feeder_email_idx`` serves the pick: contactable leads are e-mail leads (new/queued with a
  verified e-mail), walked in score order and stopped as soon as the batch is full.

Revision ID: 0009
Revises: 0008
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE INDEX leads_feeder_email_idx ON leads (lead_score DESC, id)
          WHERE campaign_status IN ('new', 'queued') AND email_verified;

        CREATE TABLE campaign_batches (
          id          bigserial PRIMARY KEY,
          feed_date   date NOT NULL,
          lead_ids    uuid[] NOT NULL,
          run_id      text,
          created_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX campaign_batches_feed_date_idx ON campaign_batches (feed_date);

        CREATE TABLE campaign_batch_leads (
          lead_id     uuid PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
          batch_id    bigint NOT NULL REFERENCES campaign_batches (id) ON DELETE CASCADE,
          feed_date   date NOT NULL,
          broker_id   uuid,
          lead_score  integer
        );
        CREATE INDEX campaign_batch_leads_date_idx ON campaign_batch_leads (feed_date);
        CREATE INDEX campaign_batch_leads_broker_date_idx ON campaign_batch_leads (broker_id, feed_date);

        SELECT protect_pipeline_table('campaign_batches');
        SELECT protect_pipeline_table('campaign_batch_leads');
        GRANT USAGE ON SEQUENCE campaign_batches_id_seq TO service_role, pipeline_writer;

        """
    )
    sqlfiles.apply("feed_campaign")


def downgrade() -> None:
    op.execute(
        """
        DROP FUNCTION IF EXISTS feed_campaign(date, integer, text);
        DROP FUNCTION IF EXISTS feed_campaign(date, integer, text, integer);
        DROP TABLE IF EXISTS campaign_batch_leads;
        DROP TABLE IF EXISTS campaign_batches;
        DROP INDEX IF EXISTS leads_feeder_email_idx;
        """
    )
