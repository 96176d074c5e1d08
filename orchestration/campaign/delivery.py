"""What the feed does once a date's leads are picked: write the export of every batch of the date
that has none yet, POST it to the campaign endpoint (when one is configured; a failed POST waits in
the DLQ for ``dlq.retry_campaign_pushes``), and push the date's leads to Instantly (when configured).

A re-run of the date completes what an earlier run left undone (an export written but not sent, a
lead not pushed) and feeds nobody twice: every step reads what is still missing from the database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from orchestration.campaign import feeder
from orchestration.campaign.push import PushSettings
from orchestration.db import store
from orchestration.privacy.pii import Sealer


@dataclass(frozen=True)
class Endpoint:
    """Where exports are POSTed, and how hard to try before the DLQ takes over."""

    url: str = ""
    attempts: int = 4
    backoff_s: float = 1.0
    dlq_retry_in_s: float = 300.0


@dataclass
class Sent:
    """The outcome of sending one feed date, for the asset's metadata and its push check."""

    deliveries: list[feeder.Delivery] = field(default_factory=list)
    post_statuses: list[int] = field(default_factory=list)
    pushed: Counter | None = None
    ok: bool = True
    summary: str = ""


def send(database_url: str, feed_date: date, *, outbox: Path, links: feeder.ConsentLinks, sealer: Sealer,
         endpoint: Endpoint, instantly: PushSettings, role: str | None = "pipeline_writer",
         run_id: str | None = None, warn: Callable[[str], None] = lambda _: None) -> Sent:
    """Export, POST and push everything of ``feed_date`` that is not yet delivered."""
    sent = Sent(summary="no endpoint configured" if not endpoint.url else "nothing to send")
    # This run's batch, or one whose export failed after its feed committed.
    sent.deliveries = feeder.deliver(database_url, feed_date, outbox, links, sealer=sealer, role=role,
                                     run_id=run_id)
    if endpoint.url:
        for delivery in sent.deliveries:
            post = _post(database_url, delivery, endpoint, role=role, run_id=run_id)
            sent.post_statuses = post.statuses
            sent.ok = sent.ok and post.ok
            sent.summary = (f"sent (HTTP {post.statuses[-1]})" if post.ok else
                            f"failed after {post.attempts} attempts ({post.error}); the export is in the DLQ")
            if not post.ok:
                warn(f"POST to the campaign endpoint failed after {post.attempts} attempts ({post.error}); "
                     "the batch is recorded and the export kept in the DLQ")
    if instantly.enabled:
        sent.pushed = feeder.push_date(database_url, feed_date, links, instantly, sealer=sealer, role=role,
                                       run_id=run_id)
        ok = sent.pushed["failed"] == 0
        sent.ok = sent.ok and ok
        sent.summary = (sent.summary + "; " if endpoint.url else "") + (
            f"Instantly: {sent.pushed['pushed']} pushed" if ok else
            f"Instantly: {sent.pushed['failed']} leads not pushed (see campaign_pushes); re-run this date to "
            "retry them")
    return sent


def _post(database_url: str, delivery: feeder.Delivery, endpoint: Endpoint, *, role: str | None,
          run_id: str | None) -> feeder.PostResult:
    """POST one export; every status is recorded, and a failure becomes a DLQ item that
    dlq_retry_job retries (doubling delays) until it is delivered."""
    post = feeder.post_with_retry(endpoint.url, delivery.export.read_bytes(), attempts=endpoint.attempts,
                                  backoff_s=endpoint.backoff_s)
    with store.connect(database_url, role=role) as conn, conn.transaction():
        for status in post.statuses:
            store.record_event(conn, "campaign_post", stage="campaign_feed", run_id=run_id, http_status=status,
                               details={"batch_id": delivery.batch_id})
        if not post.ok:
            store.record_dlq(conn, "campaign_feed", f"POST of batch {delivery.batch_id} failed: {post.error}",
                             {"batch_id": delivery.batch_id, "export": str(delivery.export),
                              "statuses": post.statuses}, retry_in_s=endpoint.dlq_retry_in_s)
    return post
