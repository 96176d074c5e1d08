"""Erasure on request: erased leads, and erasure suppressions that hold no value.

Why: a person may ask to be erased. ``equity erase`` (orchestration.privacy.erasure) empties their leads'
personal fields and stamps ``leads.erased_at`` (the rows stay: feeds, pushes, events and consent
audits refer to them), and records ``erasure`` suppressions as blind indexes (HMAC under a key
kept outside the database, orchestration.privacy.blind_index) of their e-mails and phones and of the owner
at the property (channel ``owner``: the address key and owner key), so a later upload that names
them is recognised without the database keeping their e-mail or phone.

The merge learns that a newer record naming an owner is the next owner of a lead whose owner was
erased (the erased person's own rows are scrubbed before the merge, so they never qualify).

Revision ID: 0017
Revises: 0016
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE leads ADD COLUMN IF NOT EXISTS erased_at timestamptz;
        ALTER TABLE suppressions DROP CONSTRAINT suppressions_channel_check,
          ADD CONSTRAINT suppressions_channel_check CHECK (channel IN ('email', 'phone', 'address', 'owner'));
        """
    )
    sqlfiles.apply("merge_validated_leads")


def downgrade() -> None:
    # leads.erased_at stays: the merge's current definition reads it (and an erased lead stays
    # marked); the upgrade adds it only where it is missing.
    op.execute(
        """
        DELETE FROM suppressions WHERE channel = 'owner';
        ALTER TABLE suppressions DROP CONSTRAINT suppressions_channel_check,
          ADD CONSTRAINT suppressions_channel_check CHECK (channel IN ('email', 'phone', 'address'));
        """
    )
