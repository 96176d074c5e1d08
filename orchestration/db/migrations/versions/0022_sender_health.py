"""Keep the sender alive: pauses, the list each fed lead came from, its sending mailbox, and the
block list shared with the campaign tool.

Why: bounces and complaints were stored but never stopped the next morning's feed, so one bad
vendor list could burn the sending domain; the export named no mailbox; and suppressions recorded
here never reached the campaign tool's block list (nor came back from it).

- ``campaign_batch_leads`` learns ``upload_id`` (the vendor list that supplied the lead when it
  was fed: the breaker judges each list by its own bounces) and ``sending_account`` (the mailbox
  the lead was spread to).
- ``campaign_pauses``: one row per pause, of the whole sender (``upload_id`` NULL) or of one
  list, by the breaker or a person, with its reason and the figures behind it; it stays open until
  a person resumes it with a reason. At most one open pause per scope. The feed's pick
  (``feed_campaign``) leaves out the leads of a paused list.
- ``blocklist_sync``: which suppressed e-mails (by blind index, never the value) were pushed to the
  campaign tool's block list, and which came from it, so both directions are idempotent.
- suppressions learn the reason ``campaign_blocklist`` (an address blocked inside the campaign
  tool).

Revision ID: 0022
Revises: 0021
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

REASONS_BEFORE = ("unsubscribe", "bounce", "complaint", "dnc_internal", "dnc_federal", "litigator", "erasure",
                  "deceased", "revoked", "deletion_request")
REASONS = REASONS_BEFORE + ("campaign_blocklist",)


def _reasons(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def upgrade() -> None:
    op.execute(
        f"""
        ALTER TABLE campaign_batch_leads ADD COLUMN upload_id text, ADD COLUMN sending_account text;
        CREATE INDEX campaign_batch_leads_upload_idx ON campaign_batch_leads (upload_id, feed_date)
          WHERE upload_id IS NOT NULL;

        CREATE TABLE campaign_pauses (
          id             bigserial PRIMARY KEY,
          upload_id      text,
          paused_at      timestamptz NOT NULL DEFAULT now(),
          paused_by      text NOT NULL CHECK (paused_by <> ''),
          reason         text NOT NULL CHECK (reason <> ''),
          figures        jsonb NOT NULL DEFAULT '{{}}',
          resumed_at     timestamptz,
          resumed_by     text,
          resume_reason  text,
          CHECK ((resumed_at IS NULL) = (resume_reason IS NULL)),
          CHECK (resume_reason IS NULL OR resume_reason <> '')
        );
        CREATE UNIQUE INDEX campaign_pauses_open_idx ON campaign_pauses (coalesce(upload_id, ''))
          WHERE resumed_at IS NULL;

        CREATE TABLE blocklist_sync (
          value_index  text NOT NULL CHECK (value_index <> ''),
          direction    text NOT NULL CHECK (direction IN ('pushed', 'pulled')),
          entry_id     text,
          synced_at    timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (value_index, direction)
        );

        ALTER TABLE suppressions DROP CONSTRAINT suppressions_reason_check,
          ADD CONSTRAINT suppressions_reason_check CHECK (reason IN ({_reasons(REASONS)}));
        """
    )
    for table in ("campaign_pauses", "blocklist_sync"):
        op.execute(f"SELECT protect_pipeline_table('{table}')")
    op.execute("GRANT USAGE ON SEQUENCE campaign_pauses_id_seq TO service_role, pipeline_writer")
    sqlfiles.apply("feed_campaign")


def downgrade() -> None:
    sqlfiles.apply_text(sqlfiles.as_before("feed_campaign", revision="0022"))
    op.execute(
        f"""
        DELETE FROM suppressions WHERE reason = 'campaign_blocklist';
        ALTER TABLE suppressions DROP CONSTRAINT suppressions_reason_check,
          ADD CONSTRAINT suppressions_reason_check CHECK (reason IN ({_reasons(REASONS_BEFORE)}));
        DROP TABLE IF EXISTS blocklist_sync;
        DROP TABLE IF EXISTS campaign_pauses;
        DROP INDEX IF EXISTS campaign_batch_leads_upload_idx;
        ALTER TABLE campaign_batch_leads DROP COLUMN IF EXISTS sending_account, DROP COLUMN IF EXISTS upload_id;
        """
    )
