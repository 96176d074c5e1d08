"""Our suppression list and the campaign tool's block list kept the same (Instantly API v2, "block
list entries"): push our unsubscribes, complaints, hard bounces, revocations, erasures and
deletion requests to it; pull what was blocked inside it into our suppressions; report the drift.

Why: an opt-out recorded here must stop the campaign tool too (CAN-SPAM gives 10 business days to
honour it everywhere), and an address a person blocked inside the tool must not come back in
tomorrow's feed.

- **Push** (``POST /api/v2/block-lists-entries/bulk-create``, 1-1,000 values a request): each
  suppressed e-mail once, found by its blind index in ``blocklist_sync`` (so a re-run pushes
  nothing twice); its value is opened from a lead or event that still holds it (recorded as
  ``pii_decrypted``). A suppression whose address this database never held (a hashed deletion
  request) cannot be pushed and is counted as such. An erasure is pushed by ``equity erase`` before
  its values are removed (``push_values``).
- **Pull** (``GET /api/v2/block-lists-entries``, pages of 100 by ``starting_after``): every e-mail
  entry becomes a ``campaign_blocklist`` suppression (by blind index; the value is not kept);
  domain entries are counted (a domain is not an address this list can hold).
- **Drift**: after both, the suppressed addresses we could push that the block list lacks, and the
  block list's addresses we do not suppress; both should be 0.

Off unless the Instantly base URL and API key are set. Requests retry on 429/5xx (Retry-After
honoured); the API key never reaches logs, events or errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestration.core.outbound import deliver
from orchestration.db import store

PATH = "/api/v2/block-lists-entries"
BULK = 1000
PAGE = 100
SOURCE = "instantly"


@dataclass(frozen=True)
class BlocklistSettings:
    base_url: str
    api_key: str = field(repr=False)
    attempts: int = 5
    backoff_s: float = 1.0

    @property
    def enabled(self) -> bool:
        return bool(self.base_url and self.api_key)


class BlocklistError(RuntimeError):
    """The campaign tool did not take or give the block list (the message names the status only)."""


@dataclass
class SyncResult:
    pushed: int = 0                 # addresses sent to the block list this run
    not_pushable: int = 0           # suppressions whose address this database never held
    pulled: int = 0                 # e-mail entries read from the block list
    pulled_new: int = 0             # ... that were not suppressed here under any reason before
    domains: int = 0                # domain entries (counted, not mirrored)
    missing_there: int = 0          # drift: suppressed here (with a known address), not on the block list
    missing_here: int = 0           # drift: on the block list, not suppressed here

    @property
    def drift(self) -> int:
        return self.missing_there + self.missing_here

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("pushed", "not_pushable", "pulled", "pulled_new", "domains",
                                              "missing_there", "missing_here")} | {"drift": self.drift}


def _request(client, settings: BlocklistSettings, method: str, path: str, sleep, **kwargs):
    url = settings.base_url.rstrip("/") + path
    headers = {"Authorization": f"Bearer {settings.api_key}"}
    sent = deliver(lambda: client.request(method, url, headers=headers, **kwargs), attempts=settings.attempts,
                   backoff_s=settings.backoff_s, sleep=sleep)
    if not sent.ok:
        # a transport error is named by its class only (its text may quote the request)
        what = sent.error.split(":", 1)[0] if sent.error else "no answer"
        raise BlocklistError(f"Instantly's block list: {method} {path} failed after {sent.attempts} attempts ({what})")
    return sent.response


def push_values(client, settings: BlocklistSettings, values: list[str], sleep: Callable = time.sleep) -> dict[str, str]:
    """Send e-mails to the block list in bulk; returns {value: entry id} of what it reported created
    (a value it already held is simply not in its answer)."""
    out: dict[str, str] = {}
    for i in range(0, len(values), BULK):
        chunk = values[i:i + BULK]
        resp = _request(client, settings, "POST", PATH + "/bulk-create", sleep, json={"bl_values": chunk})
        body = resp.json() if resp.content else []
        items = body if isinstance(body, list) else body.get("items", [])
        out.update({str(e.get("bl_value", "")).lower(): str(e.get("id", "")) for e in items if isinstance(e, dict)})
    return out


def pull_entries(client, settings: BlocklistSettings, sleep: Callable = time.sleep) -> list[dict]:
    """Every entry of the block list, page by page."""
    entries: list[dict] = []
    after = None
    while True:
        params = {"limit": PAGE} | ({"starting_after": after} if after else {})
        body = _request(client, settings, "GET", PATH, sleep, params=params).json()
        items = body.get("items") or []
        entries += [e for e in items if isinstance(e, dict)]
        after = body.get("next_starting_after")
        if not items or not after:
            return entries


def sync(conn, sealer, settings: BlocklistSettings, *, run_id: str | None = None, client=None,
         sleep: Callable = time.sleep) -> SyncResult:
    """Push what is missing there, pull what is missing here, measure the drift (see the module)."""
    import httpx

    from orchestration.identity import normalize

    result = SyncResult()
    own = client is None
    client = client or httpx.Client(timeout=30.0)
    try:
        with conn.transaction():
            rows = store.unpushed_blocks(conn, limit=1_000_000)
            opened = {idx: sealer.open("email", sealed) for idx, sealed in rows if sealed}
            if opened:
                store.record_event(conn, "pii_decrypted", stage="blocklist_sync", run_id=run_id, row_count=len(opened),
                                   details={"purpose": "push suppressions to the campaign tool's block list",
                                            "values": len(opened)})
        result.not_pushable = sum(1 for _, sealed in rows if not sealed)
        by_value = {v.lower(): idx for idx, v in opened.items() if v}
        if by_value:
            created = push_values(client, settings, sorted(by_value), sleep)
            with conn.transaction():
                store.record_block_sync(conn, "pushed", [(idx, created.get(v)) for v, idx in by_value.items()])
            result.pushed = len(by_value)

        entries = pull_entries(client, settings, sleep)
        result.domains = sum(1 for e in entries if e.get("is_domain"))
        theirs: dict[str, str] = {}
        for e in entries:
            if e.get("is_domain"):
                continue
            value = normalize.one(normalize.email, str(e.get("bl_value") or ""))
            if value:
                theirs[sealer.blind("email", value)] = str(e.get("id") or "")
        result.pulled = len(theirs)
        with conn.transaction():
            result.pulled_new = store.suppress_blocked(conn, sorted(theirs), SOURCE)
            store.record_block_sync(conn, "pulled", sorted(theirs.items()))
            ours = store.blocked_indexes(conn)
            pushable = ours - {idx for idx, sealed in rows if not sealed}
            result.missing_there = len(pushable - set(theirs))
            result.missing_here = len(set(theirs) - ours)
            store.record_event(conn, "blocklist_synced", stage="blocklist_sync", run_id=run_id,
                               row_count=result.pushed + result.pulled_new, details=result.as_dict())
    finally:
        if own:
            client.close()
    return result

