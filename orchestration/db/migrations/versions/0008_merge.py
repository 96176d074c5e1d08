"""leads_validated work table and merge_validated_leads(): the set-based triple-key merge.

Why: the merge is the heart of the pipeline and must be one transaction of a few set statements,
never a statement per row. ``leads_validated`` holds one upload's normalised, in-file-deduplicated
rows; ``merge_validated_leads()`` (``orchestration/db/sql/merge_validated_leads.sql``, where its
rules are written down) matches them to existing leads by MAK -> (APN, state) -> addr_hash and
merges safely; ``sorted_union()`` is how verification code arrays merge.

Revision ID: 0008
Revises: 0007
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE leads_validated (
          upload_id                 text NOT NULL,
          row_number                integer NOT NULL,
          first_name                text,
          last_name                 text,
          email                     text,
          phone                     text,
          property_address          text NOT NULL,
          property_city             text NOT NULL,
          property_state            text NOT NULL,
          property_zip              text NOT NULL,
          property_value            numeric(14, 2),
          estimated_equity          numeric(14, 2),
          age                       integer,
          owner_occupied            boolean,
          email_verified            boolean NOT NULL DEFAULT false,
          phone_verified            boolean NOT NULL DEFAULT false,
          email_verification_codes  text[] NOT NULL DEFAULT '{}',
          phone_verification_codes  text[] NOT NULL DEFAULT '{}',
          melissa_payload           jsonb NOT NULL DEFAULT '{}',
          mak                       text,
          apn                       text,
          addr_hash                 text,
          duplicate_rows            integer NOT NULL DEFAULT 0,
          PRIMARY KEY (upload_id, row_number)
        );
        SELECT protect_pipeline_table('leads_validated');

        """
    )
    sqlfiles.apply("sorted_union", "merge_validated_leads")


def downgrade() -> None:
    op.execute(
        """
        DROP FUNCTION IF EXISTS merge_validated_leads(text, text, timestamptz);
        DROP FUNCTION IF EXISTS sorted_union(text[], text[]);
        DROP TABLE IF EXISTS leads_validated;
        """
    )
