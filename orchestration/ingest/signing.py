"""Upload signatures: HMAC-SHA256 over ``timestamp + "." + source + "." + raw body``.

Pure logic, no I/O beyond what the caller feeds in, so the HTTP endpoint, the sensor (for signed
sidecars) and the CLI client share exactly one implementation. The body is fed in chunks as it is
received, so nothing needs the whole upload in memory, and verification happens on the raw bytes
before any parsing.

Refusals carry an HTTP status, a stable machine code and a message a person can act on; none of
them ever includes an expected signature, a computed HMAC or a key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchestration import constants
from orchestration.core.files import Reloading

H_SIGNATURE = "X-Signature"
H_TIMESTAMP = "X-Signature-Timestamp"
H_SHA256 = "X-Content-SHA256"
H_SOURCE = "X-Upload-Source"
H_KEY_ID = "X-Key-Id"
# What the operator paid for the list (optional, not part of the signature: the vendor-ROI
# dashboard divides it by the bookings the list produced). Dollars, e.g. "1500" or "1499.99".
H_COST = "X-List-Cost-USD"
REQUIRED_HEADERS = (H_SIGNATURE, H_TIMESTAMP, H_SHA256, H_SOURCE)

WINDOW = timedelta(seconds=300)
SOURCES = constants.SOURCES

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_SIG = re.compile(r"^sha256=([0-9a-f]{64})$")
_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|\+00:00)$")
log = logging.getLogger(__name__)
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class Refused(Exception):
    """A request that must not be accepted: the HTTP ``status`` to answer with, a stable machine
    ``code`` and a ``message`` a person can act on (never a secret or an expected signature)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status, "code": self.code, "message": self.message}


class UploadRefused(Refused):
    """An upload that must not be accepted."""


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    secret: bytes = field(repr=False)

    def __repr__(self) -> str:  # never show the secret
        return f"SigningKey(key_id={self.key_id!r})"


def parse_keys(spec: str) -> list[SigningKey]:
    """``"id1:secret1,id2:secret2"`` (or one per line) -> keys. Every listed key is active."""
    keys = []
    items = [part for line in spec.splitlines() if not line.strip().startswith("#")
             for part in line.split(",")]
    for item in items:
        item = item.strip()
        if not item:
            continue
        key_id, sep, secret = item.partition(":")
        if not sep or not secret or not _KEY_ID.match(key_id.strip()):
            raise ValueError("upload keys must look like 'key_id:secret' (key ids: letters, digits, . _ -)")
        keys.append(SigningKey(key_id.strip(), secret.strip().encode()))
    return keys


class KeyRing:
    """The active upload keys: fixed ones (``EC_UPLOAD_KEYS``) plus a keys file that is re-read
    whenever its modification time or size changes, so a line deleted from the file is refused
    from the next request on, with no restart. A file that cannot be parsed keeps the last good
    keys (a half-saved edit must not open or close the door) and says so on ``error``."""

    def __init__(self, fixed: Iterable[SigningKey] = (), path: Path | str | None = None):
        self.fixed = list(fixed)
        self.path = Path(path) if path else None
        # parse_keys never quotes a secret in its errors
        self._file = Reloading(self.path, parse_keys, missing=[], what="upload keys file") if self.path else None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "KeyRing":
        return cls(parse_keys(env.get("EC_UPLOAD_KEYS", "")), env.get("EC_UPLOAD_KEYS_FILE") or None)

    @property
    def error(self) -> str | None:
        return self._file.error if self._file else None

    def current(self) -> list[SigningKey]:
        return self.fixed + (self._file.current() if self._file else [])


def load_keys(env: Mapping[str, str]) -> list[SigningKey]:
    """Active keys from ``EC_UPLOAD_KEYS`` and/or the file named by ``EC_UPLOAD_KEYS_FILE``."""
    spec = env.get("EC_UPLOAD_KEYS", "")
    path = env.get("EC_UPLOAD_KEYS_FILE")
    if path:
        spec += "\n" + Path(path).read_text()
    return parse_keys(spec)


def format_timestamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _message_prefix(timestamp: str, source: str) -> bytes:
    return timestamp.encode() + b"." + source.encode() + b"."


def sign(body: bytes, *, source: str, key: SigningKey, when: datetime | None = None) -> dict[str, str]:
    """Headers for an upload of ``body`` (the client side; also used to write sidecars)."""
    ts = format_timestamp(when or datetime.now(UTC))
    mac = hmac.new(key.secret, _message_prefix(ts, source) + body, hashlib.sha256).hexdigest()
    return {
        H_SIGNATURE: f"sha256={mac}",
        H_TIMESTAMP: ts,
        H_SHA256: hashlib.sha256(body).hexdigest(),
        H_SOURCE: source,
        H_KEY_ID: key.key_id,
    }


def parse_cost(headers: Mapping[str, str]) -> str | None:
    """The list's cost in dollars as a plain decimal text ("1500.00"), None when not sent; a value
    that is not an amount is refused (400) before the body is read."""
    from decimal import Decimal, InvalidOperation

    text = _get(headers, H_COST)
    if text is None or text == "":
        return None
    cleaned = text.replace("$", "").replace(",", "").strip()
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount > Decimal("10000000") \
            or amount != amount.quantize(Decimal("0.01")):
        raise UploadRefused(400, "bad_cost", f"{H_COST} must be a dollar amount from 0 to 10,000,000 with at most "
                                             "two decimals (e.g. 1500 or 1499.99)")
    return f"{amount:.2f}"


def _get(headers: Mapping[str, str], name: str) -> str | None:
    lower = name.lower()
    for k, v in headers.items():
        if k.lower() == lower:
            return v.strip()
    return None


@dataclass
class PendingVerification:
    """Header checks done; feed the body with ``update()``, then call ``finish()``."""

    timestamp: str
    source: str
    claimed_sha256: str
    signature: str
    key_id: str | None
    received_at: datetime
    _candidates: list[tuple[SigningKey, "hmac.HMAC"]] = field(repr=False, default_factory=list)
    _sha: "hashlib._Hash" = field(repr=False, default_factory=hashlib.sha256)
    size: int = 0

    @property
    def received_sha256(self) -> str:
        """SHA-256 of the bytes fed so far."""
        return self._sha.hexdigest()

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._sha.update(chunk)
        for _, mac in self._candidates:
            mac.update(chunk)

    def finish(self) -> "VerifiedUpload":
        actual = self._sha.hexdigest()
        if not hmac.compare_digest(actual, self.claimed_sha256):
            raise UploadRefused(400, "hash_mismatch",
                                f"{H_SHA256} does not match the bytes received ({self.size} bytes): "
                                "the file changed after it was hashed or was cut short in transit; "
                                "re-send the exact bytes that were hashed and signed")
        matched = None
        for key, mac in self._candidates:
            # Constant-time comparison against every candidate: no early exit on a match.
            if hmac.compare_digest(mac.hexdigest(), self.signature) and matched is None:
                matched = key
        if matched is None:
            raise UploadRefused(401, "bad_signature",
                                "signature does not match any active upload key"
                                + (f" (key id {self.key_id!r})" if self.key_id else "")
                                + ": sign timestamp + '.' + source + '.' + body with a current key; "
                                "retired keys are no longer accepted")
        return VerifiedUpload(source=self.source, sha256=actual, size=self.size, key_id=matched.key_id,
                              signed_at=self.timestamp, received_at=self.received_at)


@dataclass(frozen=True)
class VerifiedUpload:
    source: str
    sha256: str
    size: int
    key_id: str
    signed_at: str
    received_at: datetime


def begin(headers: Mapping[str, str], keys: Iterable[SigningKey], *,
          received_at: datetime | None = None, window: timedelta = WINDOW) -> PendingVerification:
    """Check the headers (presence, shape, timestamp window) before reading the body."""
    received_at = received_at or datetime.now(UTC)
    values = {h: _get(headers, h) for h in (*REQUIRED_HEADERS, H_KEY_ID)}
    missing = [h for h in REQUIRED_HEADERS if not values[h]]
    if missing:
        raise UploadRefused(400, "missing_header", f"missing header(s): {', '.join(missing)}")
    sig = _SIG.match(values[H_SIGNATURE] or "")
    if not sig:
        raise UploadRefused(400, "malformed_header",
                            f"{H_SIGNATURE} must be 'sha256=' followed by 64 lower-case hex digits")
    ts = values[H_TIMESTAMP] or ""
    if not _TS.match(ts):
        raise UploadRefused(400, "malformed_header",
                            f"{H_TIMESTAMP} must be an RFC 3339 UTC time like 2026-03-06T13:30:00Z")
    if not _HEX64.match(values[H_SHA256] or ""):
        raise UploadRefused(400, "malformed_header", f"{H_SHA256} must be 64 lower-case hex digits")
    source = values[H_SOURCE] or ""
    if source not in SOURCES:
        raise UploadRefused(400, "malformed_header",
                            f"{H_SOURCE} must be one of {', '.join(SOURCES)} (got {source[:40]!r})")
    key_id = values[H_KEY_ID]
    if key_id is not None and not _KEY_ID.match(key_id):
        raise UploadRefused(400, "malformed_header", f"{H_KEY_ID} may hold letters, digits, '.', '_', '-'")
    signed = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    skew = (received_at - signed).total_seconds()
    if abs(skew) > window.total_seconds():
        direction = "old" if skew > 0 else "in the future"
        raise UploadRefused(400, "stale_timestamp",
                            f"{H_TIMESTAMP} is {abs(skew):.0f} s {direction}; it must be within "
                            f"{window.total_seconds():.0f} s of receipt: check the sender's clock and sign "
                            "just before sending")
    active = list(keys)
    if key_id is not None:
        # A key id narrows the candidates; an unknown (or removed) one is refused before the body
        # is read. Key ids are names, not secrets.
        active = [k for k in active if k.key_id == key_id]
        if not active:
            raise UploadRefused(401, "bad_signature", f"key id {key_id!r} is not an active upload key: "
                                "sign with a current key (retired keys are no longer accepted)")
    prefix = _message_prefix(ts, source)
    candidates = [(k, hmac.new(k.secret, prefix, hashlib.sha256)) for k in active]
    return PendingVerification(timestamp=ts, source=source, claimed_sha256=values[H_SHA256] or "",
                               signature=sig.group(1), key_id=key_id, received_at=received_at,
                               _candidates=candidates)


def verify_bytes(headers: Mapping[str, str], body: bytes, keys: Iterable[SigningKey], *,
                 received_at: datetime | None = None) -> VerifiedUpload:
    pending = begin(headers, keys, received_at=received_at)
    pending.update(body)
    return pending.finish()


_BINARY_MAGIC = (b"PK\x03\x04", b"%PDF", b"\x89PNG", b"\x1f\x8b", b"\xd0\xcf\x11\xe0", b"GIF8", b"\xff\xd8\xff")


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def not_csv_reason(first_chunk: bytes) -> str | None:
    """Cheap sniff on the first bytes: why this is not CSV text (binary formats such as xlsx/zip,
    pdf, images or gzip; UTF-16), or None. NUL bytes further on are caught chunk by chunk."""
    if first_chunk.startswith(_UTF16_BOMS):
        return ("the body is UTF-16 text (Excel's 'Unicode Text'); CSV must be UTF-8 or Windows-1252: "
                "save the list as 'CSV UTF-8'")
    if any(first_chunk.startswith(m) for m in _BINARY_MAGIC):
        return ("the body is not CSV text (it looks like a binary file such as xlsx, zip or pdf): "
                "export the list as CSV")
    return None


def nul_reason(offset: int) -> str:
    return (f"the body holds a NUL byte (0x00) at offset {offset:,}: CSV text never does (a binary or "
            "UTF-16 file, or a damaged export); export the list again as CSV UTF-8")
