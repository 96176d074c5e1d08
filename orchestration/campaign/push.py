"""The campaign push: each fed lead sent to Instantly (API v2, ``POST {base}/api/v2/leads``) with
its consent link, optional per deployment.

- Bounded concurrency (a few requests at once), each lead retried on 429 (waiting what
  ``Retry-After`` says, capped), 5xx and connection errors (doubling delays); another 4xx fails
  that lead at once (the body was refused: retrying will not help).
- Each lead's outcome is recorded as soon as it is known (``campaign_pushes``: one row per lead
  and batch), so a push killed halfway resumes on re-run with the leads not yet pushed. The window between
  Instantly's 200 and our record is covered by ``skip_if_in_campaign``: Instantly itself refuses a
  second copy of a lead already in the campaign.
- The API key comes from the environment (``EC_INSTANTLY_API_KEY``) and never reaches logs, events
  or metadata; the base URL is configurable so tests run against a local fake server.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from orchestration.core.outbound import deliver, retry_after_s  # noqa: F401 - retry_after_s re-exported

PATH = "/api/v2/leads"


@dataclass(frozen=True)
class PushSettings:
    base_url: str
    api_key: str = field(repr=False)
    campaign_id: str
    concurrency: int = 4
    max_attempts: int = 5
    backoff_s: float = 1.0
    max_wait_s: float = 60.0

    @property
    def enabled(self) -> bool:
        return bool(self.base_url and self.api_key and self.campaign_id)


@dataclass
class Outcome:
    lead_id: object
    ok: bool
    attempts: int
    status: int | None
    error: str | None
    waited_s: float = 0.0


def lead_body(row: dict, campaign_id: str) -> dict:
    """One export row as Instantly's create-lead body."""
    body = {
        "campaign": campaign_id,
        "email": row["email"],
        "first_name": row.get("first_name"),
        "last_name": row.get("last_name"),
        "company_name": row.get("broker_name"),
        "custom_variables": {
            "consent_url": row["consent_url"],
            "broker_name": row.get("broker_name"),
            "property_city": row.get("property_city"),
        },
        "skip_if_in_campaign": True,
    }
    if row.get("phone"):
        body["phone"] = row["phone"]
    if row.get("sending_account"):
        # Instantly's create-lead has no per-lead sender field (its campaign rotates its accounts):
        # the mailbox the day's spread chose travels as a variable a sender rule can use
        body["custom_variables"]["sending_account"] = row["sending_account"]
    return body


def push_one(client, settings: PushSettings, row: dict, sleep: Callable[[float], None] = time.sleep) -> Outcome:
    body = lead_body(row, settings.campaign_id)
    sent = deliver(lambda: client.post(settings.base_url.rstrip("/") + PATH, json=body,
                                       headers={"Authorization": f"Bearer {settings.api_key}"}),
                   attempts=settings.max_attempts, backoff_s=settings.backoff_s, max_delay_s=settings.max_wait_s,
                   sleep=sleep)
    # a transport error has no status, and is named by its class only (its text may quote the request)
    transport = not sent.ok and sent.error is not None and not sent.error.startswith("HTTP")
    status = None if transport else sent.status
    error = None if sent.ok else (sent.error.split(":", 1)[0] if transport else sent.error)
    return Outcome(row["lead_id"], sent.ok, sent.attempts, status, error, sent.waited_s)


def push_rows(rows: list[dict], settings: PushSettings, record: Callable[[Outcome], None],
              sleep: Callable[[float], None] = time.sleep) -> Counter:
    """Push every row (at most ``settings.concurrency`` at once); ``record`` is called with each
    outcome as soon as it is known. Returns counts: pushed, failed, rate_limited_waits."""
    import httpx

    counts: Counter = Counter()
    lock = threading.Lock()

    def push_and_record(row: dict) -> Outcome:
        # recorded by the worker that pushed it, before it takes the next row: a crash can then
        # lose the record of at most the ``concurrency`` requests in flight, never of finished
        # ones queued behind a slow recorder
        outcome = push_one(client, settings, row, sleep)
        with lock:
            record(outcome)
        return outcome

    with httpx.Client(timeout=30.0) as client, ThreadPoolExecutor(max_workers=settings.concurrency) as pool:
        for future in as_completed([pool.submit(push_and_record, r) for r in rows]):
            outcome = future.result()
            counts["pushed" if outcome.ok else "failed"] += 1
            counts["waited_s"] += round(outcome.waited_s)
    return counts
