"""Helpers: advisory locks for scheduled jobs, cleanup of replay guards and consent tokens, hashing.

Why: two overlapping runs of a scheduled job (a retry while the first still runs, a backfill next
to a tick) must not both work: jobs take ``try_job_lock(name)`` and skip when it returns false.
Replay guards only need to live 7 days and spent consent tokens not at all, so cleanup functions keep
those tables small. ``sha256_hex``/``lead_addr_hash`` are the SQL twins of the Python hashing, so an
operator can look a lead up by address from psql.

Revision ID: 0006
Revises: 0005
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlfiles.apply("job_lock_key", "try_job_lock", "release_job_lock", "try_job_xact_lock",
                   "cleanup_replay_guards", "cleanup_consent_tokens", "sha256_hex", "lead_addr_hash")


def downgrade() -> None:
    op.execute(
        """
        DROP FUNCTION IF EXISTS lead_addr_hash(text, text, text, text);
        DROP FUNCTION IF EXISTS sha256_hex(text);
        DROP FUNCTION IF EXISTS cleanup_consent_tokens();
        DROP FUNCTION IF EXISTS cleanup_replay_guards(interval);
        DROP FUNCTION IF EXISTS try_job_xact_lock(text);
        DROP FUNCTION IF EXISTS release_job_lock(text);
        DROP FUNCTION IF EXISTS try_job_lock(text);
        DROP FUNCTION IF EXISTS job_lock_key(text);
        """
    )
