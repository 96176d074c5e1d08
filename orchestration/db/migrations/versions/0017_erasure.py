"""Erasure on request: erased leads, and erasure suppressions that hold no value.

Why: a person may ask to be erased. ``equity erase`` (orchestration.erasure) empties their leads'
personal fields and stamps ``leads.erased_at`` (the rows stay: feeds, pushes, events and consent
audits refer to them), and records ``erasure`` suppressions as blind indexes (HMAC under a key
kept outside the database, orchestration.blind_index) of their e-mails and phones and of the owner
at the property (channel ``owner``: the address key and owner key), so a later upload that names
them is recognised without the database keeping their e-mail or phone.

Revision ID: 0017
Revises: 0016
"""
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE leads ADD COLUMN erased_at timestamptz;
        ALTER TABLE suppressions DROP CONSTRAINT suppressions_channel_check,
          ADD CONSTRAINT suppressions_channel_check CHECK (channel IN ('email', 'phone', 'address', 'owner'));
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DELETE FROM suppressions WHERE channel = 'owner';
        ALTER TABLE suppressions DROP CONSTRAINT suppressions_channel_check,
          ADD CONSTRAINT suppressions_channel_check CHECK (channel IN ('email', 'phone', 'address'));
        ALTER TABLE leads DROP COLUMN erased_at;
        """
    )
