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

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION job_lock_key(job_name text) RETURNS bigint
          LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$ SELECT hashtextextended('equity-connect:' || job_name, 0) $f$;

        -- Session-level lock: held until release_job_lock() or the connection closes.
        CREATE FUNCTION try_job_lock(job_name text) RETURNS boolean
          LANGUAGE sql VOLATILE AS $f$ SELECT pg_try_advisory_lock(job_lock_key(job_name)) $f$;
        CREATE FUNCTION release_job_lock(job_name text) RETURNS boolean
          LANGUAGE sql VOLATILE AS $f$ SELECT pg_advisory_unlock(job_lock_key(job_name)) $f$;
        -- Transaction-level lock: released at COMMIT/ROLLBACK, nothing to forget.
        CREATE FUNCTION try_job_xact_lock(job_name text) RETURNS boolean
          LANGUAGE sql VOLATILE AS $f$ SELECT pg_try_advisory_xact_lock(job_lock_key(job_name)) $f$;

        CREATE FUNCTION cleanup_replay_guards(max_age interval DEFAULT interval '7 days') RETURNS bigint
          LANGUAGE sql VOLATILE AS $f$
            WITH gone AS (
              DELETE FROM ingest_replay_guard WHERE received_at < now() - max_age RETURNING 1
            )
            SELECT count(*) FROM gone
          $f$;

        CREATE FUNCTION cleanup_consent_tokens() RETURNS bigint
          LANGUAGE sql VOLATILE AS $f$
            WITH gone AS (
              DELETE FROM consent_tokens
              WHERE expires_at < now() OR used_at IS NOT NULL
              RETURNING 1
            )
            SELECT count(*) FROM gone
          $f$;

        CREATE FUNCTION sha256_hex(value text) RETURNS text
          LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $f$
            SELECT encode(sha256(convert_to(value, 'UTF8')), 'hex')
          $f$;

        -- Same recipe as orchestration.ingest.normalize.addr_hash: inputs already normalised.
        CREATE FUNCTION lead_addr_hash(address text, city text, state text, zip5 text) RETURNS text
          LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $f$
            SELECT sha256_hex(address || '|' || city || '|' || state || '|' || zip5)
          $f$;
        """
    )


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
