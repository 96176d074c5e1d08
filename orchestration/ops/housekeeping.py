"""Housekeeping, free of Dagster: what the daily sweep removes and counts.

- replay guards older than the replay window (``cleanup_replay_guards()``: the same bytes may be
  sent again after it);
- consent tokens that expired or were used (``cleanup_consent_tokens()``);
- ``.part`` files in the landing directory's ``.tmp/`` older than a day: what an upload that was
  cut off mid-body left behind (a body still streaming in is minutes old, never a day);
- retention of what holds people's data (``Retention``): an upload's work rows once its merge
  succeeded, landed CSVs (their manifests stay: the lineage still names the upload),
  quarantine records and campaign exports after their periods, and the row a DLQ payload quotes
  once the item is resolved or old.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import psycopg

from orchestration import constants
from orchestration.db import store
from orchestration.core.landing import Landing

PART_MAX_AGE = timedelta(days=1)


@dataclass(frozen=True)
class Retention:
    """How long what holds people's data is kept (hours for work rows, days for the rest)."""

    work_rows_hours: float = constants.WORK_ROWS_KEEP_HOURS
    landed_days: float = constants.RETENTION_DAYS
    quarantine_days: float = constants.RETENTION_DAYS
    outbox_days: float = constants.RETENTION_DAYS
    dlq_days: float = constants.RETENTION_DAYS


@dataclass
class Sweep:
    replay_guards: int
    consent_tokens: int
    part_files: int
    part_bytes: int
    work_uploads: int = 0
    work_rows: int = 0
    landed_files: int = 0
    quarantine_files: int = 0
    outbox_files: int = 0
    dlq_payloads_scrubbed: int = 0
    retention: dict = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if k != "retention"}


def _remove_older(folder: Path, pattern: str, max_age_s: float, now: float) -> tuple[int, int]:
    """(files, bytes) removed from ``folder`` matching ``pattern`` and older than ``max_age_s``."""
    files = size = 0
    if folder.exists():
        for path in folder.glob(pattern):
            st = path.stat()
            if path.is_file() and now - st.st_mtime > max_age_s:
                path.unlink(missing_ok=True)
                files += 1
                size += st.st_size
    return files, size


def sweep(conn: psycopg.Connection, landing: Landing, *, outbox: Path | None = None,
          retention: Retention = Retention(), part_max_age: timedelta = PART_MAX_AGE,
          now: float | None = None) -> Sweep:
    """Run every cleanup once (one transaction for the database part) and record the counts."""
    now = time.time() if now is None else now
    day = 86400.0
    with conn.transaction():
        guards = store.cleanup_replay_guards(conn, constants.REPLAY_WINDOW_DAYS)
        tokens = store.cleanup_consent_tokens(conn)
        uploads = store.expired_work_uploads(conn, retention.work_rows_hours, retention.landed_days)
        work_rows = store.delete_work_rows(conn, uploads)
        scrubbed = store.scrub_dlq_payloads(conn, retention.dlq_days)
    files, size = _remove_older(landing.tmp, "*.part", part_max_age.total_seconds(), now)
    landed, _ = _remove_older(landing.uploads, "*.csv", retention.landed_days * day, now)
    quarantined, _ = _remove_older(landing.quarantine, "*", retention.quarantine_days * day, now)
    exports, _ = _remove_older(outbox, "**/*", retention.outbox_days * day, now) if outbox else (0, 0)
    result = Sweep(guards, tokens, files, size, len(uploads), work_rows, landed, quarantined, exports, scrubbed,
                   retention=dict(retention.__dict__))
    with conn.transaction():
        store.record_event(conn, "housekeeping", stage="housekeeping",
                           details={**result.counts(), "retention": result.retention})
    return result
