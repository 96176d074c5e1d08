"""Housekeeping, free of Dagster: what the daily sweep removes and counts.

- replay guards older than the replay window (``cleanup_replay_guards()``: the same bytes may be
  sent again after it);
- consent tokens that expired or were used (``cleanup_consent_tokens()``);
- ``.part`` files in the landing directory's ``.tmp/`` older than a day: what an upload that was
  cut off mid-body left behind (a body still streaming in is minutes old, never a day).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import psycopg

from orchestration import constants
from orchestration.db import store
from orchestration.ingest.landing import Landing

PART_MAX_AGE = timedelta(days=1)


@dataclass
class Sweep:
    replay_guards: int
    consent_tokens: int
    part_files: int
    part_bytes: int

    def counts(self) -> dict[str, int]:
        return dict(self.__dict__)


def sweep(conn: psycopg.Connection, landing: Landing, *, part_max_age: timedelta = PART_MAX_AGE,
          now: float | None = None) -> Sweep:
    """Run every cleanup once (one transaction for the database part) and record the counts."""
    now = time.time() if now is None else now
    with conn.transaction():
        guards = store.cleanup_replay_guards(conn, constants.REPLAY_WINDOW_DAYS)
        tokens = store.cleanup_consent_tokens(conn)
    files = size = 0
    if landing.tmp.exists():
        for path in landing.tmp.glob("*.part"):
            stat = path.stat()
            if now - stat.st_mtime > part_max_age.total_seconds():
                path.unlink(missing_ok=True)
                files += 1
                size += stat.st_size
    result = Sweep(guards, tokens, files, size)
    with conn.transaction():
        store.record_event(conn, "housekeeping", stage="housekeeping", details=result.counts())
    return result
