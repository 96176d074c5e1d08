"""Retrying what the DLQ holds that time can fix — free of Dagster.

Today that is the campaign push: a feed batch whose export could not be POSTed to the campaign
endpoint is recorded (the leads are fed, the export is kept) with a retry time. Each retry run
POSTs the due exports once more:

- delivered: the row is resolved (``resolved_at``), an event ``dlq_resolved`` is recorded;
- 429, 5xx or no connection: ``attempts`` + 1 and the next try after a doubling delay
  (``base_delay_s`` * 2^attempts, at most ``max_delay_s``), until ``max_attempts``; then the row
  stays open without a retry time, ``status = gave_up``, for a person;
- any other 4xx, or the export file gone: ``status = permanent`` — retrying will not help; a person
  must look (the runbook in docs/dlq.md says what to do for each).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psycopg

from orchestration.campaign import feeder
from orchestration.db import store

SOURCE = "campaign_feed"


def retry_in(attempts: int, base_delay_s: float, max_delay_s: float) -> float:
    return min(base_delay_s * 2 ** attempts, max_delay_s)


def retry_campaign_pushes(conn: psycopg.Connection, endpoint_url: str, *, max_attempts: int = 8,
                          base_delay_s: float = 300.0, max_delay_s: float = 6 * 3600.0,
                          post: Callable[..., feeder.PostResult] = feeder.post_with_retry) -> dict[str, int]:
    """One pass over the due campaign-push rows (one transaction); counts by outcome."""
    counts: Counter = Counter()
    with conn.transaction():
        for dlq_id, payload, attempts in store.due_dlq(conn, SOURCE):
            counts["due"] += 1
            export = Path(payload.get("export", ""))
            if not endpoint_url:
                store.settle_dlq(conn, dlq_id, resolved=False, retry_in_s=base_delay_s, status="waiting",
                                 note="no campaign endpoint configured (EC_CAMPAIGN_ENDPOINT_URL)")
                counts["waiting"] += 1
                continue
            if not export.is_file():
                store.settle_dlq(conn, dlq_id, resolved=False, retry_in_s=None, status="permanent",
                                 note=f"the export file {export} is gone")
                counts["permanent"] += 1
                continue
            result = post(endpoint_url, export.read_bytes(), attempts=1)
            status = result.statuses[-1] if result.statuses else None
            if result.ok:
                store.settle_dlq(conn, dlq_id, resolved=True, retry_in_s=None, status="resolved",
                                 note=f"delivered (HTTP {status})")
                store.record_event(conn, "dlq_resolved", stage=SOURCE, http_status=status,
                                   details={"dlq_id": dlq_id, "batch_id": payload.get("batch_id"),
                                            "attempts": attempts + 1})
                counts["resolved"] += 1
            elif status is not None and status != 429 and 400 <= status < 500:
                store.settle_dlq(conn, dlq_id, resolved=False, retry_in_s=None, status="permanent",
                                 note=f"the endpoint refused the export (HTTP {status})")
                counts["permanent"] += 1
            elif attempts + 1 >= max_attempts:
                store.settle_dlq(conn, dlq_id, resolved=False, retry_in_s=None, status="gave_up",
                                 note=f"{attempts + 1} attempts failed; last: {result.error}")
                counts["gave_up"] += 1
            else:
                store.settle_dlq(conn, dlq_id, resolved=False,
                                 retry_in_s=retry_in(attempts + 1, base_delay_s, max_delay_s),
                                 status="retrying", note=f"attempt {attempts + 1} failed: {result.error}")
                counts["retrying"] += 1
    return dict(counts)
