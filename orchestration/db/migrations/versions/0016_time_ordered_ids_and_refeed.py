"""Time-ordered lead ids, and a sold property's lead fed again to its new owner.

Why:
- lead ids were random UUIDs, so every row a million-row merge inserted touched a random page of
  leads' primary key and of the lineage's lead index; the merge now gives its new leads
  version-7 UUIDs (``new_lead_id()``: time first), which it appends side by side (the column's
  default stays gen_random_uuid(): a broker's own insert may call no function of ours);
- "each lead is fed once, ever" also held after the property was sold: the merge resets a lead
  whose owner changed to campaign status ``new``, but the feeder skipped every lead it had ever
  fed, so the new owner was never written to. A feed now records the owner it reached
  (``campaign_batch_leads.owner_since``, the lead's ``owner_since`` at feed time) and a lead is
  fed once per owner; a lead may therefore appear in several batches (the primary keys of
  ``campaign_batch_leads`` and ``campaign_pushes`` become (lead_id, batch_id)). Feeds recorded
  before this revision count as feeds of the lead's current owner.

Revision ID: 0016
Revises: 0015
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlfiles.apply("new_lead_id")
    op.execute(
        """
        ALTER TABLE campaign_batch_leads ADD COLUMN owner_since timestamptz;
        UPDATE campaign_batch_leads f SET owner_since = l.owner_since
          FROM leads l WHERE l.id = f.lead_id AND l.owner_since IS NOT NULL;
        ALTER TABLE campaign_batch_leads DROP CONSTRAINT campaign_batch_leads_pkey,
          ADD PRIMARY KEY (lead_id, batch_id);
        ALTER TABLE campaign_pushes DROP CONSTRAINT campaign_pushes_pkey,
          ADD PRIMARY KEY (lead_id, batch_id);
        """
    )
    sqlfiles.apply("merge_validated_leads", "feed_campaign")


def downgrade() -> None:
    # One row per lead again: only each lead's latest feed and push survive.
    op.execute(
        """
        DELETE FROM campaign_batch_leads f WHERE EXISTS (
          SELECT 1 FROM campaign_batch_leads g WHERE g.lead_id = f.lead_id AND g.batch_id > f.batch_id);
        DELETE FROM campaign_pushes p WHERE EXISTS (
          SELECT 1 FROM campaign_pushes q WHERE q.lead_id = p.lead_id AND q.batch_id > p.batch_id);
        ALTER TABLE campaign_batch_leads DROP CONSTRAINT campaign_batch_leads_pkey, ADD PRIMARY KEY (lead_id);
        ALTER TABLE campaign_pushes DROP CONSTRAINT campaign_pushes_pkey, ADD PRIMARY KEY (lead_id);
        """
    )
    sqlfiles.apply_text(sqlfiles.as_before(
        "merge_validated_leads", ("new_lead_id()", "gen_random_uuid()"), revision="0016"))
    sqlfiles.apply_text(sqlfiles.as_before(
        "feed_campaign",
        ("\n                        AND f.owner_since IS NOT DISTINCT FROM l.owner_since)", ")"),
        ("\n                                 AND f.owner_since IS NOT DISTINCT FROM l.owner_since)", ")"),
        (" AND f.owner_since IS NOT DISTINCT FROM o.owner_since", ""),
        (", l.owner_since\n", "\n"), (", owner_since timestamptz)", ")"), (", r.owner_since FROM ranked", " FROM ranked"),
        (", lead_score, owner_since)", ", lead_score)"), (", p.lead_score, p.owner_since FROM", ", p.lead_score FROM"),
        revision="0016"))
    op.execute("ALTER TABLE campaign_batch_leads DROP COLUMN owner_since; DROP FUNCTION new_lead_id()")
