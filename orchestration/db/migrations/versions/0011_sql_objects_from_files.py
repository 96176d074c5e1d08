"""Every function and trigger from its ``.sql`` file; pipeline stages named after their assets.

Why: until now each revision carried its objects' SQL inline, and a function replaced later (the
merge, the campaign trigger) existed in several versions across revisions. From here on each
object has exactly one definition in the repository, ``orchestration/db/sql/NAME.sql``, written as
PostgreSQL prints it; this revision re-applies all of them, so a database migrated before the move
holds exactly the files' text (same logic, re-indented bodies). A later change to an object edits
its file and adds a revision that re-applies it.

The ingest assets were renamed after what they hold (``raw_upload`` -> ``landed_file``,
``validated_leads`` -> ``leads_validated``, ``deduped_leads`` -> ``leads``); the stage names the
pipeline records follow, and earlier events and DLQ rows are renamed so the audit trail speaks
one language.

Revision ID: 0011
Revises: 0010
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

RENAMED_STAGES = {"raw_upload": "landed_file", "validated_leads": "leads_validated", "deduped_leads": "leads"}


def _rename_stages(renames: dict[str, str]) -> None:
    for old, new in renames.items():
        op.execute(f"UPDATE pipeline_events SET stage = '{new}' WHERE stage = '{old}'")
        op.execute(f"UPDATE pipeline_dlq SET source = '{new}' WHERE source = '{old}'")


def upgrade() -> None:
    shim = op.get_bind().exec_driver_sql(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = 'auth'"
    ).scalar() == sqlfiles.AUTH_SHIM_MARK
    sqlfiles.apply(*(o.name for o in sqlfiles.objects() if (o.schema == "public" or shim)
                     and o.name not in sqlfiles.INTRODUCED_AFTER_0011))
    _rename_stages(RENAMED_STAGES)


def downgrade() -> None:
    _rename_stages({new: old for old, new in RENAMED_STAGES.items()})
    # Objects whose first revision is this one (every earlier object is dropped by its own revision).
    op.execute("DROP FUNCTION IF EXISTS lead_plain_columns()")
