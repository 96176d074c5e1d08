"""Who a reverse mortgage can help, who asked to be left alone, and evidence that cannot be edited.

Why: the contactable set took every senior with a verified e-mail, whether or not a HECM could
help them (too young, not living there, a commercial property, a mortgage larger than any HECM
pays off) and whether or not they were alive: the day's feed was spent on people who cannot be
helped, and a deceased owner's address reaches a grieving family. People also say "stop" in
replies, and deletion lists arrive as hashes; consent rows could be changed after the fact.

- ``leads`` / ``leads_validated`` / ``leads_staging`` learn the vendor facts eligibility needs:
  ``property_type`` (as the vendor spells it), ``open_mortgage_balance``, ``owner_birth_date``,
  ``owner_deceased``, ``vacant``, ``probate``, and ``consent_certificate`` (a TrustedForm or LeadiD
  certificate the vendor collected). They are plain columns (the newest non-NULL value wins); the
  owner's own ones (deceased, probate, birth date, certificate) follow the owner on a sale.
- ``leads.ineligible_reasons``: why the lead is held back (empty: eligible), written by each
  refresh from the dbt model ``int_lead_eligibility``; the contactable view takes only ``'{}'``.
- suppressions learn three reasons: ``deceased`` (a vendor marked the owner deceased: every e-mail
  and phone of that record), ``revoked`` (a reply said stop, or the campaign tool labelled it
  not-interested / wrong person) and ``deletion_request`` (a hashed deletion list matched).
- ``deletion_requests``: the SHA-256 hashes of a deletion list (California's Delete Act has data
  brokers pull them every 45 days); uploads and existing leads are matched against them.
- ``lead_consent_audit`` becomes evidence: the page's version and SHA-256, a keyed hash of the IP
  (the address itself is no longer kept), the token's batch and feed date, and a trigger that
  refuses UPDATE and DELETE (``refuse_change``). Existing rows keep their agreed text; their IP is
  replaced by its plain SHA-256 (``sha256:<hex>``: the key the new rows' HMAC uses lives outside
  the database, where a migration cannot reach it).

Revision ID: 0021
Revises: 0020
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# (column, type) added to leads, leads_validated and (as text) leads_staging
FACTS = (
    ("property_type", "text"),
    ("open_mortgage_balance", "numeric(14, 2)"),
    ("owner_birth_date", "date"),
    ("owner_deceased", "boolean"),
    ("vacant", "boolean"),
    ("probate", "boolean"),
    ("consent_certificate", "text"),
)
REASONS_BEFORE = ("unsubscribe", "bounce", "complaint", "dnc_internal", "dnc_federal", "litigator", "erasure")
REASONS = REASONS_BEFORE + ("deceased", "revoked", "deletion_request")


def _reasons(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def upgrade() -> None:
    adds = ", ".join(f"ADD COLUMN IF NOT EXISTS {c} {t}" for c, t in FACTS)
    staged = ", ".join(f"ADD COLUMN IF NOT EXISTS {c} text" for c, _ in FACTS)
    op.execute(
        f"""
        ALTER TABLE leads {adds}, ADD COLUMN IF NOT EXISTS ineligible_reasons text[];
        ALTER TABLE leads_validated {adds};
        ALTER TABLE leads_staging {staged};
        ALTER TABLE suppressions DROP CONSTRAINT suppressions_reason_check,
          ADD CONSTRAINT suppressions_reason_check CHECK (reason IN ({_reasons(REASONS)}));

        CREATE TABLE deletion_requests (
          channel      text NOT NULL CHECK (channel IN ('email', 'phone', 'any')),
          sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{{64}}$'),
          source       text NOT NULL,
          imported_at  timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (sha256, channel)
        );

        ALTER TABLE lead_consent_audit
          ADD COLUMN page_version text,
          ADD COLUMN page_sha256  text,
          ADD COLUMN ip_hash      text,
          ADD COLUMN batch_id     bigint,
          ADD COLUMN feed_date    date;
        UPDATE lead_consent_audit SET ip_hash = 'sha256:' || sha256_hex(ip) WHERE ip IS NOT NULL;
        ALTER TABLE lead_consent_audit DROP COLUMN ip;
        """
    )
    op.execute("SELECT protect_pipeline_table('deletion_requests')")
    # refuse_change's file also creates the trigger that makes lead_consent_audit append-only
    sqlfiles.apply("refuse_change", "merge_validated_leads", "suppress_from_upload", "apply_lead_event")


def downgrade() -> None:
    drops = ", ".join(f"DROP COLUMN IF EXISTS {c}" for c, _ in FACTS)
    # The earlier definitions first: they name none of the new columns or reasons.
    for name in ("apply_lead_event", "suppress_from_upload", "merge_validated_leads"):
        sqlfiles.apply_text(sqlfiles.as_before(name, revision="0021"))
    op.execute(
        f"""
        DROP MATERIALIZED VIEW IF EXISTS analytics.mv_contactable_leads;
        DROP TRIGGER IF EXISTS lead_consent_audit_append_only ON lead_consent_audit;
        DROP FUNCTION IF EXISTS refuse_change();
        ALTER TABLE lead_consent_audit ADD COLUMN ip text;
        ALTER TABLE lead_consent_audit DROP COLUMN page_version, DROP COLUMN page_sha256, DROP COLUMN ip_hash,
          DROP COLUMN batch_id, DROP COLUMN feed_date;
        DROP TABLE IF EXISTS deletion_requests;
        DELETE FROM suppressions WHERE reason IN ('deceased', 'revoked', 'deletion_request');
        ALTER TABLE suppressions DROP CONSTRAINT suppressions_reason_check,
          ADD CONSTRAINT suppressions_reason_check CHECK (reason IN ({_reasons(REASONS_BEFORE)}));
        ALTER TABLE leads_staging {drops};
        ALTER TABLE leads_validated {drops};
        ALTER TABLE leads {drops}, DROP COLUMN IF EXISTS ineligible_reasons;
        """
    )
