"""Validation, in-file collapse and merge carry lead columns by name.

Why: the list of lead columns was written out in five functions (the work table, the slice load,
the in-file collapse, the merge's comparison and its UPDATE and INSERT), so adding one nullable
column meant editing all of them. ``lead_plain_columns()`` reads from the catalog the columns
``leads`` and ``leads_validated`` share that have no merge rule of their own; the functions build
those parts of their statements from it, and ``_validated_work`` is created ``LIKE
leads_validated``. A new nullable lead column is now: a revision adding it to ``leads_staging``,
``leads_validated`` and ``leads``, its profile aliases, and its normaliser.

Revision ID: 0012
Revises: 0011
"""
from orchestration.db import sqlfiles

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlfiles.apply("lead_plain_columns", "begin_validated_work", "load_validated_slice", "publish_validated",
                   "merge_validated_leads")


def downgrade() -> None:
    # Nothing to undo here: each function has one definition (its file), and revision 0011, which
    # applies every file, already created lead_plain_columns() (its downgrade drops it).
    pass
