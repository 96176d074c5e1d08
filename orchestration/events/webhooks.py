"""Inbound events from the campaign tool, the voice agent and the booking page, signed per the
Standard Webhooks specification — pure logic, no I/O.

A sender signs ``"{webhook-id}.{webhook-timestamp}.{body}"`` with HMAC-SHA256 under its secret
(``whsec_`` + base64 of the key bytes) and sends ``webhook-signature: v1,<base64>`` — several
space-separated signatures while a secret is being rotated. The timestamp is Unix seconds and must
be within 5 minutes of receipt. Each sender has its own secret (``sender:whsec_...`` per line of
the event keys file); the secret that verifies names the sender.

Refusals carry an HTTP status, a stable code and a message a person can act on, and never an
expected signature or a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from orchestration.events import revocation
from orchestration.ingest.signing import Refused

TOLERANCE_S = 300
MAX_BODY_BYTES = 256 * 1024
SECRET_PREFIX = "whsec_"
# A sender that cannot sign (Instantly offers custom headers, no HMAC) sends this secret in a
# custom header instead: ``sender:hdr_<token>`` in the event keys file, ``POST /events/instantly``.
HEADER_SECRET_PREFIX = "hdr_"
TOKEN_HEADER = "x-equity-webhook-token"

# Our event types, and what each does (see orchestration/db/sql/apply_lead_event.sql).
TYPES = ("reply", "unsubscribe", "bounce", "complaint", "booked")
# Instantly's webhook ``event_type`` names that mean one of ours.
INSTANTLY_TYPES = {
    "reply_received": "reply",
    "lead_unsubscribed": "unsubscribe",
    "email_bounced": "bounce",
    "lead_meeting_booked": "booked",
    # labels Instantly puts on a reply: a reply that revokes consent (orchestration.events.revocation)
    "lead_not_interested": "reply",
    "lead_wrong_person": "reply",
}
# Instantly events that change nothing here: answered 200 and not stored, so a webhook
# subscribed to "all events" does not retry them forever.
INSTANTLY_IGNORED = frozenset({
    "email_sent", "email_opened", "link_clicked", "auto_reply_received", "campaign_completed",
    "account_error", "lead_neutral", "lead_interested", "lead_meeting_completed",
    "lead_closed", "lead_out_of_office",
})

_SENDER = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_WEBHOOK_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class EventRefused(Refused):
    """An event that must not be accepted."""


@dataclass(frozen=True)
class EventSecret:
    sender: str
    key: bytes = field(repr=False)
    kind: str = "signing"          # "signing" (Standard Webhooks) or "header" (a token sent as a header)

    def __repr__(self) -> str:  # never show the key
        return f"EventSecret(sender={self.sender!r}, kind={self.kind!r})"


def decode_secret(text: str) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret (padding optional, as the specification allows)."""
    raw = text.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("an event secret must be 'whsec_' followed by base64") from None
    if len(key) < 16:
        raise ValueError("an event secret must hold at least 16 bytes")
    return key


def parse_event_keys(text: str) -> list[EventSecret]:
    """``sender:whsec_...`` per line (``#`` comments) -> secrets. A sender may have two lines while
    its secret is rotated: both verify."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        sender, sep, secret = line.partition(":")
        if not sep or not _SENDER.match(sender.strip()):
            raise ValueError(f"event keys line {n} must look like 'sender:whsec_...' (senders: letters, digits, . _ -)")
        try:
            if secret.strip().startswith(HEADER_SECRET_PREFIX):
                out.append(EventSecret(sender.strip(), decode_header_token(secret), "header"))
            else:
                out.append(EventSecret(sender.strip(), decode_secret(secret)))
        except ValueError as exc:
            raise ValueError(f"event keys line {n}: {exc}") from None
    return out


def decode_header_token(text: str) -> bytes:
    """The bytes a header-token sender must send (``hdr_`` + at least 32 URL-safe characters)."""
    token = text.strip()
    body = token.removeprefix(HEADER_SECRET_PREFIX)
    if len(body) < 32 or not re.fullmatch(r"[A-Za-z0-9_-]+", body):
        raise ValueError("a header token must be 'hdr_' followed by at least 32 letters, digits, '-' or '_' "
                         "(make one with `python -c \"import secrets; print('hdr_' + secrets.token_urlsafe(32))\"`)")
    return token.encode()


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_header_token() -> str:
    return HEADER_SECRET_PREFIX + secrets.token_urlsafe(32)


def verify_header_token(secrets_: list[EventSecret], token: str | None) -> str:
    """The sender whose header token this is, else EventRefused (401). Every header secret is
    compared in constant time, whatever matched before."""
    if not token:
        raise EventRefused(401, "missing_token", f"the {TOKEN_HEADER} header is missing: configure it as a custom "
                                                 "header of the webhook in the campaign tool")
    offered = token.strip().encode()
    matches = [hmac.compare_digest(offered, s.key) for s in secrets_ if s.kind == "header"]
    senders = [s.sender for s in secrets_ if s.kind == "header"]
    for ok, sender in zip(matches, senders):
        if ok:
            return sender
    raise EventRefused(401, "bad_token", f"the {TOKEN_HEADER} header matches no sender's token "
                                         "(is its hdr_ line in the event keys file?)")


def idempotency_key(body: bytes) -> str:
    """A webhook id derived from what the event is (its type, the lead's e-mail, the sender's own
    ids and its timestamp), so a delivery the sender retries is the same event: stored once.
    The body must be a JSON object (parse_event refuses anything else first)."""
    doc = json.loads(body)
    email = doc.get("lead_email", doc.get("email"))
    parts = [doc.get("event_type", doc.get("type")), email.strip().lower() if isinstance(email, str) else email,
             doc.get("timestamp", doc.get("occurred_at"))]
    parts += [doc.get(k) for k in ("workspace", "campaign_id", "email_id", "email_account", "step", "variant",
                                   "lead_id", "id")]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return f"ik_{digest[:40]}"


def sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``."""
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers_for(key: bytes, webhook_id: str, body: bytes, when: datetime | None = None) -> dict[str, str]:
    """The three headers a sender sends (tests, the demo and ``equity event`` use it)."""
    ts = int((when or datetime.now(UTC)).timestamp())
    return {"webhook-id": webhook_id, "webhook-timestamp": str(ts), "webhook-signature": sign(key, webhook_id, ts, body)}


def verify(secrets_: list[EventSecret], headers: Mapping[str, str], body: bytes, now: datetime) -> tuple[str, str]:
    """(sender, webhook id) of a correctly signed, fresh request, else EventRefused.

    ``headers`` maps lower-case names to values; a name sent twice must arrive here as a list
    (the app refuses it before calling this)."""
    webhook_id, stamp, signature = (headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    missing = [h for h, v in (("webhook-id", webhook_id), ("webhook-timestamp", stamp),
                              ("webhook-signature", signature)) if not v]
    if missing:
        raise EventRefused(400, "missing_header", f"missing header(s): {', '.join(missing)} (Standard Webhooks)")
    if not _WEBHOOK_ID.match(webhook_id):
        raise EventRefused(400, "bad_header", "webhook-id must be 1-128 letters, digits or . _ : -")
    if not stamp.isdigit() or len(stamp) > 12:
        raise EventRefused(400, "bad_header", "webhook-timestamp must be Unix seconds (an integer)")
    skew = int(now.timestamp()) - int(stamp)
    if abs(skew) > TOLERANCE_S:
        raise EventRefused(400, "stale_timestamp",
                           f"webhook-timestamp is {abs(skew)} s {'old' if skew > 0 else 'in the future'} "
                           f"(at most {TOLERANCE_S} s): check the sender's clock, then send again")
    offered = []
    for item in signature.split():
        version, _, value = item.partition(",")
        if version != "v1":
            continue
        try:
            offered.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    for secret in [s for s in secrets_ if s.kind == "signing"]:
        expected = base64.b64decode(sign(secret.key, webhook_id, int(stamp), body)[3:])
        # every offered signature is compared (constant time each), whatever matched before
        if any([hmac.compare_digest(expected, sig) for sig in offered]):
            return secret.sender, webhook_id
    raise EventRefused(401, "bad_signature", "no webhook-signature matches a known sender's secret "
                                             "(is the sender's whsec_ secret in the event keys file?)")


@dataclass(frozen=True)
class Event:
    type: str                      # one of TYPES
    occurred_at: datetime
    email: str | None
    phone: str | None
    lead_id: str | None
    data: dict
    named: str                     # the type as sent (ours or Instantly's)

    @property
    def soft_bounce(self) -> bool:
        kind = str(self.data.get("bounce_type") or self.data.get("bounce") or "").lower()
        return self.type == "bounce" and kind in ("soft", "transient", "temporary")


def parse_event(body: bytes) -> Event | None:
    """The event a body describes; None for an Instantly event that changes nothing here.

    Our shape: ``{"type", "occurred_at" (RFC 3339), "email", "phone", "lead_id", "data"}``;
    Instantly's: ``{"event_type", "timestamp", "lead_email", ...}`` (its other keys go to data). A
    reply's words (our ``data.text``, Instantly's ``reply_text``) are read for a revocation
    (orchestration.events.revocation) and not kept: ``data.revoked`` names the rule that matched."""
    from orchestration.identity import normalize
    from orchestration.identity.normalize import one

    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise EventRefused(400, "malformed_body", "the body is not JSON") from None
    if not isinstance(doc, dict):
        raise EventRefused(400, "malformed_body", "the body must be a JSON object")
    named = doc.get("type", doc.get("event_type"))
    if not isinstance(named, str) or not named:
        raise EventRefused(400, "malformed_body", "'type' is missing")
    if named in INSTANTLY_IGNORED:
        return None
    kind = named if named in TYPES else INSTANTLY_TYPES.get(named)
    if kind is None:
        raise EventRefused(400, "unknown_type", f"unknown event type (expected one of {', '.join(TYPES)} "
                                                f"or Instantly's {', '.join(sorted(INSTANTLY_TYPES))})")
    when = doc.get("occurred_at", doc.get("timestamp"))
    try:
        occurred = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
    except ValueError:
        raise EventRefused(400, "malformed_body", "'occurred_at' must be an RFC 3339 time") from None
    if occurred.tzinfo is None:
        raise EventRefused(400, "malformed_body", "'occurred_at' must carry its offset (Z or +hh:mm)")
    email = doc.get("email", doc.get("lead_email"))
    if email is not None:
        if not isinstance(email, str):
            raise EventRefused(400, "malformed_body", "'email' must be a string")
        email = one(normalize.email, email)      # the same form as leads.email
        if email is None:
            raise EventRefused(400, "malformed_body", "'email' is not an e-mail address")
    phone = doc.get("phone")
    if phone is not None:
        phone = one(normalize.phone_e164, str(phone))    # the same form as leads.phone
        if phone is None:
            raise EventRefused(400, "malformed_body", "'phone' is not a valid US phone number")
    lead_id = doc.get("lead_id")
    if lead_id is not None and not (isinstance(lead_id, str) and _UUID.match(lead_id)):
        raise EventRefused(400, "malformed_body", "'lead_id' must be a UUID")
    if email is None and phone is None and lead_id is None:
        raise EventRefused(400, "malformed_body", "an event names its person: 'email', 'phone' or 'lead_id'")
    data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    text = data.get("text")
    if "type" not in doc:   # Instantly's shape: keep its other fields (not the message bodies)
        text = doc.get("reply_text") or doc.get("reply_text_snippet") or doc.get("reply_html")
        data = {k: v for k, v in doc.items() if k not in ("event_type", "timestamp", "lead_email")
                and not k.startswith(("reply_", "email_"))} | data
    # A reply that says stop (or is labelled so) revokes consent: the rule that found it is kept,
    # never the words (in either shape); apply_lead_event suppresses the person on every lead.
    data = {k: v for k, v in data.items() if k not in ("revoked", "text")}
    if kind == "reply" and (why := revocation.revocation(named, data, text if isinstance(text, str) else None)):
        data["revoked"] = why
    return Event(kind, occurred, email, phone, lead_id.lower() if lead_id else None, data, named)
