"""One property, one lead: the ZIP-anchored address key, canonical APNs, rows keyed without an
address, newer data wins, and the lineage of every lead.

Why:
- an APN was scoped by state only, so two counties' parcels with one number became one lead; it
  is now unique within state and county (``property_county``, normalised), and a record without a
  county matches an APN only when one lead of the state has it;
- the address key included the city, so a USPS alternate city name or a misspelt city split one
  property into two leads; it is now the street line, unit and ZIP5 (street, city and state only
  when the ZIP is missing), and ``lead_addr_hash()`` computes it from a lead's stored columns — one
  definition with the Python (it disagreed for every address with a unit);
- the normaliser learnt the Publication 28 forms vendors write differently (ordinals, road
  families, SAINT/MOUNT, S.W., MLK, bare units) and the APN's canonical form drops leading zeros:
  existing leads are re-keyed here (``orchestration.db.rekey``: two leads that the new rules make
  one property keep their data, the older one keeps the key, and the conflict is recorded);
- re-running or backfilling an older upload overwrote values a newer upload had set; the merge
  now lets an older upload only fill what is empty (``last_seen_at`` is the newest receipt);
- a sold property's new owner was merged into the old owner's lead (phones and e-mails unioned under
  the previous owner's name): ``owner_key`` (the Soundex codes of the owner's surnames) tells owners
  apart, an owner change replaces the owner's fields and moves the previous owner to
  ``lead_owner_history``; ``last_sale_date`` (the vendors' sale date) names the owner when one file
  holds two owners of a property;
- nothing recorded where a lead came from: ``lead_sources`` holds, for every input row (in-file
  duplicates included), the lead it became or merged into. ``leads_validated.member_rows`` carries
  the rows of an in-file group from the collapse to the merge. It has no foreign key to ``leads``:
  a million-row merge would pay a lookup per row for it; erasing a lead deletes its sources.

Revision ID: 0015
Revises: 0014
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE lead_sources (
          upload_id    text NOT NULL,
          row_number   integer NOT NULL,
          lead_id      uuid NOT NULL,
          received_at  timestamptz NOT NULL,
          PRIMARY KEY (upload_id, row_number)
        );
        CREATE INDEX lead_sources_lead_idx ON lead_sources (lead_id);
        ALTER TABLE leads_validated ADD COLUMN member_rows integer[], ADD COLUMN owner_key text,
          ADD COLUMN last_sale_date date;
        ALTER TABLE leads_staging ADD COLUMN last_sale_date text;
        ALTER TABLE leads ADD COLUMN owner_key text, ADD COLUMN owner_since timestamptz,
          ADD COLUMN last_sale_date date, ADD COLUMN property_county text;
        ALTER TABLE leads_validated ADD COLUMN property_county text;
        -- an APN is unique within its county (a lead without a county is one more scope)
        DROP INDEX leads_apn_state_key;
        CREATE UNIQUE INDEX leads_apn_scope_key ON leads (apn, property_state, coalesce(property_county, ''))
          WHERE apn IS NOT NULL;
        CREATE TABLE lead_owner_history (
          id               bigserial PRIMARY KEY,
          lead_id          uuid NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
          first_name       text,
          last_name        text,
          email            text,
          phone            text,
          owner_key        text,
          melissa_payload  jsonb,
          broker_notes     text,
          owner_since      timestamptz NOT NULL,
          owner_until      timestamptz NOT NULL,
          upload_id        text,          -- the upload that named the next owner
          row_number       integer,
          recorded_at      timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX lead_owner_history_lead_idx ON lead_owner_history (lead_id);
        -- a row keyed by its MAK, or its APN and state, has no address yet (not contactable until one arrives)
        ALTER TABLE leads_validated ALTER COLUMN property_address DROP NOT NULL,
          ALTER COLUMN property_city DROP NOT NULL, ALTER COLUMN property_state DROP NOT NULL,
          ALTER COLUMN property_zip DROP NOT NULL;
        """
    )
    op.execute("SELECT protect_pipeline_table('lead_sources'); SELECT protect_pipeline_table('lead_owner_history')")
    op.execute("GRANT USAGE ON SEQUENCE lead_owner_history_id_seq TO service_role, pipeline_writer")
    sqlfiles.apply("lead_addr_hash", "lead_plain_columns", "begin_validated_work", "publish_validated",
                   "merge_validated_leads")
    from orchestration.db import rekey

    rekey.rekey(op.get_bind().connection.dbapi_connection)


def downgrade() -> None:
    # Keys stay as re-keyed (the older rules cannot be recovered from the stored forms, and the
    # older code finds these keys for every address it normalises the same way).
    op.execute(
        """
        DELETE FROM leads_validated WHERE property_address IS NULL OR property_city IS NULL
          OR property_state IS NULL OR property_zip IS NULL;
        ALTER TABLE leads_validated ALTER COLUMN property_address SET NOT NULL,
          ALTER COLUMN property_city SET NOT NULL, ALTER COLUMN property_state SET NOT NULL,
          ALTER COLUMN property_zip SET NOT NULL;
        DROP TABLE IF EXISTS lead_sources, lead_owner_history;
        ALTER TABLE leads_validated DROP COLUMN IF EXISTS member_rows, DROP COLUMN IF EXISTS owner_key,
          DROP COLUMN IF EXISTS last_sale_date;
        ALTER TABLE leads_staging DROP COLUMN IF EXISTS last_sale_date;
        DROP INDEX IF EXISTS leads_apn_scope_key;
        UPDATE leads l SET apn = NULL WHERE apn IS NOT NULL AND EXISTS (
          SELECT 1 FROM leads o WHERE o.apn = l.apn AND o.property_state = l.property_state
            AND (o.created_at, o.id) < (l.created_at, l.id));
        CREATE UNIQUE INDEX leads_apn_state_key ON leads (apn, property_state) WHERE apn IS NOT NULL;
        ALTER TABLE leads DROP COLUMN IF EXISTS owner_key, DROP COLUMN IF EXISTS owner_since,
          DROP COLUMN IF EXISTS last_sale_date, DROP COLUMN IF EXISTS property_county;
        ALTER TABLE leads_validated DROP COLUMN IF EXISTS property_county;
        """
    )
