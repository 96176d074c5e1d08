"""Re-key existing leads for a unit written after a post-directional; a merge that fills a
lead's state keeps APN scopes unique.

Why: real address lists carry many post-directionals (``1231 SIERRA DR NE``), and a unit written
bare after one (``4533 1ST AVE SW 7``, ``… SOUTHWEST, 7``) was kept as part of the street, so it
did not meet ``4533 1ST AVE SW UNIT 7`` of the same unit. The normaliser now reads that last token
as the unit (``# 7``), as it already did right after a suffix. Existing leads are re-normalised
and re-keyed by ``orchestration.db.rekey`` (two leads the rule makes one property keep their
data; a ``dedupe_conflict`` names both).

Parcel rows that name their county but no state are now kept (a stub until their APN finds its
lead). ``merge_validated_leads`` fills a lead's empty state from a matching row, which could move
such a stub's APN into the (APN, state, county) scope another lead already holds: the state is
now filled only where it would not.

Revision ID: 0020
Revises: 0019
"""

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    from orchestration.db import rekey, sqlfiles

    sqlfiles.apply("merge_validated_leads")
    rekey.rekey(op.get_bind().connection.dbapi_connection)


def downgrade() -> None:
    from orchestration.db import sqlfiles

    # Keys stay as re-keyed: the earlier form cannot be told from the stored one, and the earlier
    # code finds these leads for every address it normalises the same way.
    sqlfiles.apply_text(sqlfiles.as_before("merge_validated_leads", revision="0020"))
