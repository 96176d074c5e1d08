"""The one way the pipeline delivers anything over HTTP (the feed's export POST, the Instantly push,
alerts, the DLQ's retries), so every caller agrees on what "delivered" means:

- **2xx only** is delivered. A 3xx is not (the client does not follow redirects: a body re-sent to
  wherever a redirect points is not what was configured); it is a failure naming its ``Location``.
- **429, 5xx and transport errors** are retried, with exponential backoff capped at ``max_delay_s``;
  a ``Retry-After`` (seconds or an HTTP date) on a 429 or 503 is honoured, within the same cap.
- Any other 4xx is final: retrying will not change the answer.

The clock and the sleep are injected, so tests run the whole schedule without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx

RETRY_STATUSES = frozenset({429}) | frozenset(range(500, 600))


@dataclass
class Delivery:
    ok: bool
    attempts: int
    statuses: list[int] = field(default_factory=list)
    error: str | None = None
    waited_s: float = 0.0
    location: str | None = None      # where a 3xx pointed
    response: httpx.Response | None = field(default=None, repr=False)   # the 2xx answer, for callers that read it

    @property
    def status(self) -> int | None:
        return self.statuses[-1] if self.statuses else None


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def deliver(send: Callable[[], httpx.Response], *, attempts: int = 4, backoff_s: float = 1.0,
            max_delay_s: float = 300.0, sleep: Callable[[float], None] = time.sleep,
            now: Callable[[], float] = time.time) -> Delivery:
    """Call ``send`` (one request) until it is delivered or the answer is final; at most ``attempts``."""
    out = Delivery(ok=False, attempts=0)
    for attempt in range(1, max(1, attempts) + 1):
        out.attempts = attempt
        wait = None
        try:
            resp = send()
        except httpx.HTTPError as exc:
            out.error = f"{type(exc).__name__}: {exc}"[:300]
        else:
            status = resp.status_code
            out.statuses.append(status)
            if 200 <= status < 300:
                out.ok, out.error, out.response = True, None, resp
                return out
            if 300 <= status < 400:
                out.location = resp.headers.get("location")
                out.error = f"HTTP {status}: a redirect (to {out.location or 'nowhere'}) is not a delivery"
                return out
            out.error = f"HTTP {status}"
            if status not in RETRY_STATUSES:
                return out
            if status in (429, 503):
                wait = retry_after_s(resp.headers.get("retry-after"), now())
        if attempt < attempts:
            delay = min(wait if wait is not None else backoff_s * 2 ** (attempt - 1), max_delay_s)
            out.waited_s += delay
            sleep(delay)
    return out
