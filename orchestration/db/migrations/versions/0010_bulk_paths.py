"""Bulk paths: unlogged work tables, validated-row publishing, a leaner merge, planner statistics.

Why (each measured on a 1M-row upload, see benchmarks/ingest.py and docs/ingest-performance.md):
- ``leads_staging`` and ``leads_validated`` become UNLOGGED. They are work tables, rebuilt from the
  landed file (whose SHA-256 is re-checked) by re-running the upload's partition; skipping the
  write-ahead log saves ~1.5 s per million rows each. After a server crash PostgreSQL empties them,
  and the next stage says "materialize … first" instead of reading half-written rows.
- ``begin_validated_work()`` / ``load_validated_slice()`` / ``publish_validated()``: validation
  streams its normalised rows, slice by slice, through a session-local work table into
  ``leads_validated`` while it normalises the next slice, then hands over the in-file duplicate
  groups it found (``_validated_groups``: only rows of multi-row groups or rows that gave up a
  clashing key). Publishing replaces each group's rows by one, collapsed with the in-file safe merge
  (later non-NULL values win, booleans OR, codes unioned, verified channel before unverified, the
  latest non-empty skip-trace payload plus any litigator flag; a litigator anywhere in the group
  means no phone). ``publish_validated`` and ``merge_validated_leads`` run with work_mem = 256MB:
  at the default 4MB their sorts and hashes of a million rows spill to disk (two statements of the
  publish measured 3.9 s -> 2.6 s and 3.7 s -> 2.3 s).
- ``merge_validated_leads`` keeps only the matched rows' keys in its work table (it used to copy
  every validated row twice: once to build it, once to rank it), compares the merged values with
  the stored row before updating (a re-run joins and writes nothing more), looks a territory broker
  up only for leads without one, inserts unmatched rows with a plain INSERT (ON CONFLICT made every
  row probe all four unique indexes first: +5 s per million), and falls back to ON CONFLICT DO
  NOTHING only when a concurrent writer created one of the keys after the match (a unique
  violation inside a subtransaction).
- The campaign trigger on ``leads`` gets a WHEN clause, so a bulk insert of leads that are not
  becoming 'active' no longer calls a PL/pgSQL function per row (-3 s per million).
- ``analyze_pipeline_table()``: the pipeline role does not own the tables, so its ``ANALYZE`` was
  silently skipped ("permission denied … skipping"). This SECURITY DEFINER helper analyses the four
  tables whose statistics steer bulk plans (a ``leads`` analysed while empty made a merge take 13
  minutes), optionally only when autovacuum's own threshold says they are stale.

Revision ID: 0010
Revises: 0009
"""
from alembic import op

from orchestration.db import sqlfiles

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE leads_staging SET UNLOGGED;
        ALTER TABLE leads_validated SET UNLOGGED;
        """
    )
    sqlfiles.apply("analyze_pipeline_table", "begin_validated_work", "load_validated_slice", "publish_validated",
                   "merge_validated_leads", "set_added_to_campaign_at")


def downgrade() -> None:
    # merge_validated_leads and the campaign trigger keep their current definitions: each object has
    # one definition in the repository (its .sql file), so there is no older text to restore.
    op.execute(
        """
        DROP FUNCTION IF EXISTS publish_validated(text);
        DROP FUNCTION IF EXISTS load_validated_slice(text);
        DROP FUNCTION IF EXISTS begin_validated_work(text);
        DROP FUNCTION IF EXISTS analyze_pipeline_table(regclass, boolean);
        ALTER TABLE leads_validated SET LOGGED;
        ALTER TABLE leads_staging SET LOGGED;
        """
    )
