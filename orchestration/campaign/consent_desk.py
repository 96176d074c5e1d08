"""``GET/POST /consent/<token>``: show the offer, record the consent.

200 the page (GET) or the thanks (POST); 404 an unknown token; 410 a used or expired one; 400 a
POST without ``agree=yes``; 429 an address that asked too often. Recording is one transaction:
the token is spent (``used_at``), the lead gets ``consent``, ``consented_at``,
``consent_method = 'form'``, and ``lead_consent_audit`` keeps the evidence (``consent.evidence``:
the words, the page's version and hash, the IP's keyed hash, the user agent, the token's lead,
batch and feed date) — forever: cleanup never touches it, and a trigger refuses any UPDATE or
DELETE of it.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from orchestration.campaign import consent
from orchestration.db import store


@dataclass
class Answer:
    status: int
    html: str


class RateLimit:
    """At most ``limit`` requests per ``window_s`` from one address (sliding window, in memory)."""

    def __init__(self, limit: int = 20, window_s: float = 60.0):
        self.limit, self.window_s = limit, window_s
        self._seen: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._seen[key]
            while q and q[0] <= now - self.window_s:
                q.popleft()
            if len(q) >= self.limit:
                return False
            q.append(now)
            if len(self._seen) > 10_000:          # forget idle addresses
                for k in [k for k, v in self._seen.items() if not v]:
                    del self._seen[k]
            return True


class ConsentDesk:
    def __init__(self, database_url: str, role: str | None = "pipeline_writer", rate: RateLimit | None = None,
                 *, ip_key: bytes | None = None):
        self.database_url, self.role = database_url, role
        self.rate = rate or RateLimit()
        self.ip_key = ip_key     # the blind-index key: the IP is kept only as its keyed hash

    def _offer(self, conn, token: str) -> tuple[str, dict | None]:
        """('ok' | 'gone' | 'unknown', the token's lead and broker)."""
        if not consent.looks_like_token(token):
            return "unknown", None
        found = store.consent_offer(conn, consent.token_hash(token))
        if found is None:
            return ("gone" if store.consent_audited(conn, consent.token_hash(token)) else "unknown"), None
        return ("ok" if found["live"] else "gone"), found

    def show(self, token: str, ip: str) -> Answer:
        if not self.rate.allow(ip):
            return Answer(429, consent.page("Too many requests", "<p>Please try again in a minute.</p>"))
        with store.connect(self.database_url, role=self.role) as conn:
            state, found = self._offer(conn, token)
        if state == "unknown":
            return Answer(404, consent.unknown_page())
        if state == "gone":
            return Answer(410, consent.gone_page())
        return Answer(200, consent.offer_page(_offer_of(found), f"/consent/{token}"))

    def accept(self, token: str, agreed: bool, ip: str, user_agent: str) -> Answer:
        if not self.rate.allow(ip):
            return Answer(429, consent.page("Too many requests", "<p>Please try again in a minute.</p>"))
        with store.connect(self.database_url, role=self.role) as conn, conn.transaction():
            state, found = self._offer(conn, token)
            if state == "unknown":
                return Answer(404, consent.unknown_page())
            if state == "gone":
                return Answer(410, consent.gone_page())
            offer = _offer_of(found)
            if not agreed:
                return Answer(400, consent.offer_page(offer, f"/consent/{token}"))
            proof = consent.evidence(offer, ip, user_agent, self.ip_key)
            if not store.record_consent(conn, consent.token_hash(token), proof):
                return Answer(410, consent.gone_page())      # spent by a concurrent request
        return Answer(200, consent.thanks_page(offer))


def _offer_of(found: dict) -> consent.Offer:
    street = found.get("property_address") or "your home"
    city = found.get("property_city")
    return consent.Offer(first_name=found.get("first_name"), broker=found.get("broker") or "the broker",
                         nmls=found.get("nmls") or "on file",
                         property=f"{street.title()}{', ' + city.title() if city else ''}")
