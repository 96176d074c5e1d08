"""Sealed e-mails and phones: lookups, dedupe and suppressions by blind index.

Why: a database dump, a stolen backup or a curious local user must yield no e-mail or phone. The
pipeline now stores every e-mail and phone as a sealed token (AES-256-GCM under a data key kept
outside the database, tagged with its key id and carrying the value's blind index: see
orchestration.privacy.pii). One value sealed under two data keys (before and after a rotation) gives two
tokens, so lookups compare blind indexes, never values or tokens:

- ``pii_index(token)`` reads a token's blind index; the e-mail and phone lookup indexes of
  ``leads`` become indexes on it;
- the feeder (one e-mail per batch, the e-mail gap, suppressions at pick time), the upload's
  Do-Not-Call suppressions, the unverifying of suppressed phones and inbound events match by it;
- suppressions of e-mails and phones hold blind indexes (the contactable model passes
  ``pii_index`` of the lead's channels to ``lead_is_suppressed``).

The work tables hold a file's plain text while it is processed; a merge now removes its upload's
rows, truncating the tables when no other upload is at work (so the text leaves their files), for
which the pipeline roles get TRUNCATE on them; and the staged text gets no column statistics
(ANALYZE would copy sample values into pg_statistic, a logged catalog).

Brokers may no longer insert a lead's e-mail or phone: a database role holds no key, so what they
wrote would be stored in plain text (their API, which would hold the keys, seals instead).

Values an older version stored in plain text (leads, previous owners, inbound events, plain
suppressions) are sealed by ``equity keys reencrypt``, which ``equity setup`` runs after the
migrations: a migration holds no key.

Revision ID: 0018
Revises: 0017
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

CHANGED = ("suppress_from_upload", "unverify_suppressed_phones", "feed_campaign", "apply_lead_event")


def upgrade() -> None:
    sqlfiles.apply("pii_index")
    op.execute(
        """
        DROP INDEX IF EXISTS leads_email_idx;
        DROP INDEX IF EXISTS leads_phone_idx;
        CREATE INDEX leads_email_index_idx ON leads (pii_index(email)) WHERE email IS NOT NULL;
        CREATE INDEX leads_phone_index_idx ON leads (pii_index(phone)) WHERE phone IS NOT NULL;
        GRANT TRUNCATE ON leads_staging, leads_validated TO service_role, pipeline_writer;
        REVOKE INSERT (email, phone) ON leads FROM authenticated;
        """
    )
    # No column statistics of a file's text: ANALYZE would copy sample values of the staged
    # e-mails and phones into pg_statistic, a logged catalog (and so into the WAL and backups).
    # Statistics already gathered are dropped too. A hosted database's owner is no superuser and
    # may not touch pg_statistic, but "changing" a column to its own type is an owner's right,
    # rewrites nothing (the type is binary-identical) and discards that column's statistics.
    op.execute(
        """
        DO $$
        DECLARE c record;
        BEGIN
          FOR c IN SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
                    WHERE attrelid = 'leads_staging'::regclass AND attnum > 0 AND NOT attisdropped
                      AND attname NOT IN ('upload_id', 'row_number', 'source_profile', 'loaded_at')
          LOOP
            EXECUTE format('ALTER TABLE leads_staging ALTER COLUMN %I SET STATISTICS 0', c.attname);
            EXECUTE format('ALTER TABLE leads_staging ALTER COLUMN %I TYPE %s', c.attname, c.type);
          END LOOP;
        END $$;
        """
    )
    sqlfiles.apply(*CHANGED)


def downgrade() -> None:
    # Sealed values stay sealed: a migration holds no key to open them (`equity keys` does).
    sqlfiles.apply_text(sqlfiles.as_before(
        "suppress_from_upload",
        ("pii_index(p ->> 'number') AS value,", "p ->> 'number' AS value,"),
        ("AND pii_index(p ->> 'number') IS NOT NULL", "AND p ->> 'number' IS NOT NULL"),
        ("s.value = pii_index(v.phone))", "s.value = v.phone)"), revision="0018"))
    sqlfiles.apply_text(sqlfiles.as_before(
        "unverify_suppressed_phones",
        ("SELECT DISTINCT x.idx", "SELECT DISTINCT x.phone"),
        ("SELECT pii_index(v.phone) AS idx FROM", "SELECT v.phone FROM"),
        ("SELECT pii_index(p ->> 'number') FROM", "SELECT p ->> 'number' FROM"),
        ("s.value = x.idx", "s.value = x.phone"),
        ("WHERE pii_index(l.phone) = sp.idx AND", "WHERE l.phone = sp.phone AND"), revision="0018"))
    sqlfiles.apply_text(sqlfiles.as_before("feed_campaign", revision="0018"))   # its changes: REVISION_CHANGES
    sqlfiles.apply_text(sqlfiles.as_before(
        "apply_lead_event",
        ("pii_index(l.email) = pii_index(v_email)", "l.email = v_email"),
        ("pii_index(l.phone) = pii_index(v_phone)", "l.phone = v_phone"),
        ("SELECT c.channel, pii_index(c.value), p_type", "SELECT c.channel, c.value, p_type"),
        ("WHERE pii_index(c.value) IS NOT NULL", "WHERE c.value IS NOT NULL"), revision="0018"))
    op.execute(
        """
        DROP INDEX IF EXISTS leads_email_index_idx;
        DROP INDEX IF EXISTS leads_phone_index_idx;
        CREATE INDEX leads_email_idx ON leads (email) WHERE email IS NOT NULL;
        CREATE INDEX leads_phone_idx ON leads (phone) WHERE phone IS NOT NULL;
        REVOKE TRUNCATE ON leads_staging, leads_validated FROM service_role, pipeline_writer;
        GRANT INSERT (email, phone) ON leads TO authenticated;
        -- The contactable view (dbt's) calls pii_index: it goes too, and the next refresh builds it
        -- again from the model of the code being run.
        DROP MATERIALIZED VIEW IF EXISTS analytics.mv_contactable_leads;
        DO $$
        DECLARE c text;
        BEGIN
          FOR c IN SELECT attname FROM pg_attribute WHERE attrelid = 'leads_staging'::regclass AND attnum > 0
                     AND NOT attisdropped AND attstattarget = 0
          LOOP
            EXECUTE format('ALTER TABLE leads_staging ALTER COLUMN %I SET STATISTICS -1', c);
          END LOOP;
        END $$;
        DROP FUNCTION pii_index(text);
        """
    )
