"""Indexes for the second-chance pass, so an upload's cost does not grow with the warehouse.

Why: the pass that looks for a record's misspelt or ZIP-less twin joined the upload's unmatched
rows to every lead of their blocks (the same ZIP and house number; the same street line, city and
state where one side has no ZIP) with hash joins over the whole of ``leads``: one full scan per
upload, seconds at 5M leads and growing with every list. With these two indexes the pass touches
only the leads of the rows' own blocks.

- ``leads_block_idx``: (ZIP, house number) of every lead with an address;
- ``leads_zipless_address_idx``: the street line of the (few) leads without a ZIP;
- ``leads`` keeps 10 % of each new page free (fillfactor 90): a lead seen again by a later list
  (its last_seen_at, payload, codes: no indexed column) is then updated in place (a HOT update)
  instead of writing a new entry into each of its fourteen indexes;
- ``unverify_suppressed_phones`` says the lead's phone is not NULL, so its lookup uses the
  partial index of phone indexes instead of scanning every lead.

Revision ID: 0023
Revises: 0022
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE INDEX IF NOT EXISTS leads_block_idx ON leads (property_zip, split_part(property_address, ' ', 1))
          WHERE property_address IS NOT NULL;
        CREATE INDEX IF NOT EXISTS leads_zipless_address_idx ON leads (property_address)
          WHERE property_zip IS NULL AND property_address IS NOT NULL;
    """)
    op.execute("ALTER TABLE leads SET (fillfactor = 90)")
    sqlfiles.apply("unverify_suppressed_phones")


def downgrade() -> None:
    sqlfiles.apply_text(sqlfiles.as_before("unverify_suppressed_phones", revision="0023"))
    op.execute("ALTER TABLE leads RESET (fillfactor)")
    op.execute("DROP INDEX IF EXISTS leads_block_idx; DROP INDEX IF EXISTS leads_zipless_address_idx")
