"""``POST /events``: verify a signed event, store it and apply it in one transaction.

200 accepted (a repeated webhook id: 200, ``"duplicate": true``, nothing changes); 400 missing or
malformed headers, a stale timestamp, a malformed body or an unknown type; 401 bad signature; 413
over the size limit. Every refusal is recorded as an ``event_refused`` pipeline event (its code and
status, never the body); a correctly signed body that cannot be read also goes to the DLQ
(``source = 'events'``), since its sender has a bug a person must hear about.

The event keys file is read again whenever it changes, so a removed secret is refused at once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orchestration.core.files import Reloading
from orchestration.db import store
from orchestration.events import webhooks
from orchestration.events.webhooks import EventRefused
from orchestration.privacy.pii import Sealer

STAGE = "events"


@dataclass
class EventOutcome:
    status: int
    body: dict


class KeysFile:
    """The senders' secrets of a keys file, re-read when it changes; a file that cannot be parsed
    keeps the last good secrets in force (a half-saved edit neither stops the door nor opens it)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = Reloading(self.path, webhooks.parse_event_keys, missing=[], what="event keys file")

    @property
    def error(self) -> str | None:
        return self._file.error

    def secrets(self) -> list[webhooks.EventSecret]:
        return list(self._file.current())


def parse_networks(setting: str) -> list:
    """IP networks from one setting (addresses or CIDRs, separated by commas or spaces)."""
    import ipaddress

    out = []
    for item in setting.replace(",", " ").split():
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network (e.g. 34.120.0.0/16)") from None
    return out


class EventReceiver:
    def __init__(self, keys: KeysFile, database_url: str, role: str | None = "pipeline_writer",
                 max_bytes: int = webhooks.MAX_BODY_BYTES, *, sealer: Sealer, token_networks: list | None = None):
        self.keys, self.database_url, self.role, self.max_bytes = keys, database_url, role, max_bytes
        self.sealer = sealer     # the event's e-mail and phone are stored sealed, matched by blind index
        # Header-token senders (POST /events/instantly) may be held to these networks; empty: any.
        self.token_networks = list(token_networks or [])

    def refuse(self, exc: EventRefused, *, sender: str | None = None, webhook_id: str | None = None) -> EventOutcome:
        details = {"code": exc.code, "sender": sender, "webhook_id": webhook_id}
        with store.connect(self.database_url, role=self.role) as conn, conn.transaction():
            store.record_event(conn, "event_refused", stage=STAGE, http_status=exc.status, details=details)
            if sender is not None:   # signed, so it is the sender's bug, not a stranger's noise
                store.record_dlq(conn, STAGE, f"event {webhook_id} from {sender} refused: {exc.message}", details)
        return EventOutcome(exc.status, exc.as_dict())

    def receive(self, headers: dict[str, list[str]], body: bytes, *, too_large: bool = False,
                now: datetime | None = None) -> EventOutcome:
        """``headers``: lower-case name -> every value sent under it."""
        if too_large:
            return self.refuse(EventRefused(413, "too_large", f"an event body is at most {self.max_bytes:,} bytes"))
        repeated = sorted(h for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
                          if len(headers.get(h, [])) > 1)
        if repeated:
            return self.refuse(EventRefused(400, "repeated_header", f"header(s) sent more than once: "
                                                                    f"{', '.join(repeated)}"))
        single = {k: v[0] for k, v in headers.items() if v}
        try:
            sender, webhook_id = webhooks.verify(self.keys.secrets(), single, body, now or datetime.now(UTC))
        except EventRefused as exc:
            return self.refuse(exc)
        try:
            event = webhooks.parse_event(body)
        except EventRefused as exc:
            return self.refuse(exc, sender=sender, webhook_id=webhook_id)
        return self._apply(sender, webhook_id, event)

    def receive_with_token(self, headers: dict[str, list[str]], body: bytes, *, client_ip: str | None,
                           too_large: bool = False) -> EventOutcome:
        """A sender that cannot sign (Instantly): its secret in the ``x-equity-webhook-token``
        header, optionally only from ``token_networks``; the webhook id is derived from the event
        itself (``webhooks.idempotency_key``), so a retried delivery changes nothing."""
        import ipaddress

        if too_large:
            return self.refuse(EventRefused(413, "too_large", f"an event body is at most {self.max_bytes:,} bytes"))
        if self.token_networks:
            try:
                ip = ipaddress.ip_address(client_ip or "")
            except ValueError:
                ip = None
            if ip is None or not any(ip in net for net in self.token_networks):
                return self.refuse(EventRefused(403, "address_not_allowed", "this address may not send events "
                                                                            "(EC_INSTANTLY_WEBHOOK_IPS)"))
        tokens = headers.get(webhooks.TOKEN_HEADER, [])
        if len(tokens) > 1:
            return self.refuse(EventRefused(400, "repeated_header", f"header sent more than once: "
                                                                    f"{webhooks.TOKEN_HEADER}"))
        try:
            sender = webhooks.verify_header_token(self.keys.secrets(), tokens[0] if tokens else None)
        except EventRefused as exc:
            return self.refuse(exc)
        try:
            event = webhooks.parse_event(body)
            webhook_id = webhooks.idempotency_key(body)
        except EventRefused as exc:
            return self.refuse(exc, sender=sender)
        return self._apply(sender, webhook_id, event)

    def _apply(self, sender: str, webhook_id: str, event) -> EventOutcome:
        if event is None:
            return EventOutcome(200, {"status": "ignored", "webhook_id": webhook_id,
                                      "message": "this event type changes nothing here"})
        event = dataclasses.replace(event, email=self.sealer.seal("email", event.email),
                                    phone=self.sealer.seal("phone", event.phone))
        with store.connect(self.database_url, role=self.role) as conn, conn.transaction():
            applied, event_id, matched = store.apply_lead_event(conn, sender, webhook_id, event)
        if not applied:
            return EventOutcome(200, {"status": "accepted", "webhook_id": webhook_id, "duplicate": True})
        return EventOutcome(200, {"status": "accepted", "webhook_id": webhook_id, "type": event.type,
                                  "leads": matched, "event_id": event_id})
