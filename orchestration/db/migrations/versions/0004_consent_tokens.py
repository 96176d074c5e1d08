"""Consent tokens: one-time tokens in consent-form links, stored only as a hash.

Why: a consent link carries a random nonce; storing only ``nonce_hash`` means a database leak does
not reveal redeemable links. ``used_at`` makes a token single-use; ``expires_at`` bounds its life and
lets ``cleanup_consent_tokens()`` (revision 0006) remove dead tokens.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE consent_tokens (
          id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          lead_id     uuid NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
          nonce_hash  text NOT NULL UNIQUE CHECK (nonce_hash ~ '^[0-9a-f]{64}$'),
          created_at  timestamptz NOT NULL DEFAULT now(),
          expires_at  timestamptz NOT NULL DEFAULT now() + interval '14 days',
          used_at     timestamptz
        );
        CREATE INDEX consent_tokens_lead_idx ON consent_tokens (lead_id);
        CREATE INDEX consent_tokens_expires_idx ON consent_tokens (expires_at);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS consent_tokens;")
