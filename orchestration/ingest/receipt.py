"""Receiving an upload: one verifier behind both doors (HTTP endpoint and signed sidecar drops).

The headers, the key id and the timestamp are checked before any of the body is read: a request
they refuse costs no more than its headers. Otherwise the body is streamed to a private temp file
while the SHA-256 and HMACs are computed; nothing is parsed before the signature is verified.
Accepted bytes are landed atomically with a manifest. A refused body is not kept: its quarantine
record holds the headers, the size, the SHA-256 and at most its first few KiB. Every outcome is
recorded in ``pipeline_events`` (refusals also in ``pipeline_dlq``, with a pointer to the
quarantine record); a body cut off by its sender is deleted and recorded as ``upload_aborted``.
One key may stream only a few bodies at once. Messages never include a key or an expected
signature.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from orchestration import constants
from orchestration.db import store
from orchestration.ingest import signing
from orchestration.core.files import private_opener
from orchestration.core.landing import Landing, Manifest

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = constants.MAX_UPLOAD_BYTES
CSV_CONTENT_TYPES = {"text/csv", "application/csv", "text/plain", "application/octet-stream",
                     "application/vnd.ms-excel", "text/comma-separated-values"}


@dataclass(frozen=True)
class Outcome:
    status: int
    upload_id: str
    code: str
    message: str
    manifest: Manifest | None = None

    @property
    def accepted(self) -> bool:
        return self.status == 202

    def body(self) -> dict[str, object]:
        out: dict[str, object] = {"status": self.status, "code": self.code, "message": self.message}
        out["upload_id" if self.accepted else "reference"] = self.upload_id
        return out


class Receipt:
    """One upload in flight. Call ``feed()`` per chunk (until it returns False), then ``finish()``."""

    def __init__(self, receiver: "Receiver", headers: dict[str, str], *, received_at: datetime,
                 content_type: str | None, content_length: int | None, filename: str, door: str,
                 repeated: list[str] | None = None):
        self.receiver = receiver
        self.headers = {k: v for k, v in headers.items()}
        self.received_at = received_at
        self.filename = filename
        self.door = door
        self.upload_id = Landing.new_upload_id(received_at)
        self.size = 0
        self.refusal: signing.UploadRefused | None = None
        self.pending: signing.PendingVerification | None = None
        self._temp: Path = receiver.landing.temp_path(self.upload_id)
        self._fh: IO[bytes] | None = open(self._temp, "wb", opener=private_opener)
        self._sha = hashlib.sha256()   # what arrived when no verification is pending (the record's hash)
        self._first = True
        self._slot: str | None = None
        try:
            self.pending = signing.begin(self.headers, receiver.keys, received_at=received_at)
        except signing.UploadRefused as refused:
            self.refusal = refused
        self.cost_usd: str | None = None
        if self.refusal is None:
            try:
                self.cost_usd = signing.parse_cost(self.headers)
            except signing.UploadRefused as refused:
                self.refusal = refused
        if repeated:
            # A proxy keeping the last value would see another request than the one verified here.
            self.refusal = signing.UploadRefused(400, "repeated_header", "header(s) sent more than once: "
                                                 f"{', '.join(sorted(repeated))}; send each protocol header once")
        ctype = (content_type or "").split(";")[0].strip().lower()
        if self.refusal is None and ctype and ctype not in CSV_CONTENT_TYPES:
            self.refusal = signing.UploadRefused(415, "not_csv",
                                                 f"Content-Type {ctype!r} is not CSV: send text/csv")
        if content_length is not None and content_length > receiver.max_bytes:
            self.refusal = self._too_large(content_length)
        if self.refusal is None and self.pending is not None:
            slot = self.pending.key_id or "(no key id)"
            if receiver._take_slot(slot):
                self._slot = slot
            else:
                self.refusal = signing.UploadRefused(
                    429, "busy", f"{receiver.max_per_key} uploads signed with key {slot!r} are already "
                    "streaming: send one file at a time per key (retry when one has finished)")
        # Refused on the headers alone: nothing of the body is read (the HTTP door skips it).
        self.refused_before_body = self.refusal is not None

    def _too_large(self, size: int) -> signing.UploadRefused:
        return signing.UploadRefused(413, "too_large",
                                     f"upload is larger than the {self.receiver.max_bytes:,}-byte limit "
                                     f"({size:,} bytes or more): split the list into smaller files")

    def feed(self, chunk: bytes) -> bool:
        """Take the next chunk. Returns False once the rest of the body need not be read."""
        if not chunk:
            return True
        if self.size + len(chunk) > self.receiver.max_bytes:
            self.refusal = self._too_large(self.size + len(chunk))
            return False
        if self._first:
            self._first = False
            if self.refusal is None and (why := signing.not_csv_reason(chunk)):
                self.refusal = signing.UploadRefused(415, "not_csv", why)
        if self.refusal is None and (nul := chunk.find(b"\x00")) >= 0:
            # Checked on every chunk, not only the first: a NUL deep in a file would otherwise be
            # accepted and break the ingest later (PostgreSQL text cannot hold it).
            self.refusal = signing.UploadRefused(415, "not_csv", signing.nul_reason(self.size + nul))
        self.size += len(chunk)
        assert self._fh is not None
        self._fh.write(chunk)
        if self.pending is not None:
            self.pending.update(chunk)     # hashes the body for the verification (and the record)
        else:
            self._sha.update(chunk)
        # A refused body need not be read on (it is quarantined as far as it came).
        return self.refusal is None or self.refusal.status not in (413, 415)

    def _close(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None
        self._release_slot()

    def _release_slot(self) -> None:
        if self._slot is not None:
            self.receiver._give_slot(self._slot)
            self._slot = None

    @property
    def sha256(self) -> str:
        """SHA-256 of the bytes received so far."""
        return self.pending.received_sha256 if self.pending is not None else self._sha.hexdigest()

    def time_out(self, seconds: float, idle: bool) -> None:
        """The body stopped arriving (idle) or took too long in all: refuse it (408)."""
        what = f"sent nothing for {seconds:.0f} s" if idle else f"was still arriving after {seconds:.0f} s"
        self.refusal = signing.UploadRefused(
            408, "body_timeout", f"the body {what} ({self.size:,} bytes received): send the whole file "
            "in one steady request")

    def abort(self, why: str) -> None:
        """The sender went away mid-body: delete what arrived and record it (no answer can be sent)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._release_slot()
        self._temp.unlink(missing_ok=True)
        with store.connect(self.receiver.database_url, role=self.receiver.role) as conn, conn.transaction():
            store.record_event(conn, "upload_aborted", stage="receipt", upload_id=self.upload_id,
                               details={"why": why, "bytes_received": self.size, "door": self.door,
                                        "filename": self.filename, "partial_file_removed": True})
        log.warning("upload %s aborted after %d bytes: %s", self.upload_id, self.size, why)

    def finish(self) -> Outcome:
        self._close()
        verified = None
        if self.refusal is None and self.pending is not None:
            try:
                verified = self.pending.finish()
            except signing.UploadRefused as refused:
                self.refusal = refused
        return self.receiver._conclude(self, verified)


class Receiver:
    """``keys``: a fixed list, or a ``signing.KeyRing`` whose keys file is re-read when it changes
    (a removed key is refused from the next request on, no restart)."""

    def __init__(self, landing: Landing, keys: list[signing.SigningKey] | signing.KeyRing, database_url: str, *,
                 max_bytes: int = DEFAULT_MAX_BYTES, role: str | None = "pipeline_writer",
                 max_per_key: int = constants.MAX_UPLOADS_PER_KEY,
                 body_idle_timeout_s: float = constants.BODY_IDLE_TIMEOUT_S,
                 body_deadline_s: float = constants.BODY_DEADLINE_S):
        self.landing = landing.ensure()
        self.key_ring = keys if isinstance(keys, signing.KeyRing) else signing.KeyRing(keys)
        self.database_url = database_url
        self.max_bytes = max_bytes
        self.role = role
        self.max_per_key = max_per_key
        self.body_idle_timeout_s = body_idle_timeout_s
        self.body_deadline_s = body_deadline_s
        self._streaming: Counter[str] = Counter()
        self._slots = threading.Lock()

    @property
    def keys(self) -> list[signing.SigningKey]:
        return self.key_ring.current()

    def _take_slot(self, key_id: str) -> bool:
        with self._slots:
            if self._streaming[key_id] >= self.max_per_key:
                return False
            self._streaming[key_id] += 1
            return True

    def _give_slot(self, key_id: str) -> None:
        with self._slots:
            self._streaming[key_id] -= 1
            if self._streaming[key_id] <= 0:
                del self._streaming[key_id]

    def start(self, headers: dict[str, str], *, received_at: datetime | None = None,
              content_type: str | None = None, content_length: int | None = None,
              filename: str = "upload.csv", door: str = "http", repeated: list[str] | None = None) -> Receipt:
        """``repeated``: protocol headers the request sent more than once (refused with 400)."""
        return Receipt(self, headers, received_at=received_at or datetime.now(UTC),
                       content_type=content_type, content_length=content_length, filename=filename, door=door,
                       repeated=repeated)

    def receive_file(self, path: Path, headers: dict[str, str], *, received_at: datetime,
                     door: str = "sidecar") -> Outcome:
        receipt = self.start(headers, received_at=received_at, content_length=path.stat().st_size,
                             filename=path.name, door=door)
        if not receipt.refused_before_body:
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    if not receipt.feed(chunk):
                        break
        return receipt.finish()

    def _safe_headers(self, receipt: Receipt) -> dict[str, str]:
        # The signature header is evidence, not a secret, but it is left out of records anyway.
        keep = {signing.H_TIMESTAMP, signing.H_SHA256, signing.H_SOURCE, signing.H_KEY_ID, signing.H_COST}
        return {k: v[:200] for k, v in receipt.headers.items() if k in keep or k.lower() in {h.lower() for h in keep}}

    def _conclude(self, receipt: Receipt, verified: signing.VerifiedUpload | None) -> Outcome:
        headers = self._safe_headers(receipt)
        with store.connect(self.database_url, role=self.role) as conn:
            if verified is not None:
                with conn.transaction():
                    if store.claim_content(conn, verified.sha256, verified.source, receipt.upload_id, headers):
                        manifest = Manifest(
                            upload_id=receipt.upload_id, source=verified.source, sha256=verified.sha256,
                            received_at=receipt.received_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                            key_id=verified.key_id, size=verified.size, filename=receipt.filename,
                            door=receipt.door)
                        self.landing.accept(receipt._temp, manifest)
                        store.record_event(conn, "upload_received", stage="receipt",
                                           upload_id=receipt.upload_id, http_status=202,
                                           details={"source": verified.source, "size": verified.size,
                                                    "sha256": verified.sha256, "key_id": verified.key_id,
                                                    "door": receipt.door, "filename": receipt.filename,
                                                    **({"cost_usd": receipt.cost_usd} if receipt.cost_usd else {})})
                        return Outcome(202, receipt.upload_id, "accepted",
                                       f"accepted {verified.size:,} bytes as upload {receipt.upload_id}", manifest)
                receipt.refusal = signing.UploadRefused(
                    409, "replay", f"these exact bytes were already accepted within the last {constants.REPLAY_WINDOW_DAYS} days; "
                    "a re-send is refused so nothing is ingested twice (re-export if the list changed)")
            refusal = receipt.refusal
            assert refusal is not None
            qpath = self.landing.quarantine_file(receipt._temp, receipt.upload_id, {
                **refusal.as_dict(), "headers": headers, "filename": receipt.filename,
                "received_at": receipt.received_at.isoformat(), "door": receipt.door, "size": receipt.size,
                "sha256": receipt.sha256, "body_read": not receipt.refused_before_body})
            with conn.transaction():
                store.record_event(conn, "upload_refused", stage="receipt", upload_id=receipt.upload_id,
                                   http_status=refusal.status,
                                   details={"code": refusal.code, "message": refusal.message,
                                            "door": receipt.door, "filename": receipt.filename})
                store.record_dlq(conn, "upload_receipt", f"{refusal.code}: {refusal.message}", {
                    "reference": receipt.upload_id, "status": refusal.status, "code": refusal.code,
                    "quarantined": str(qpath), "filename": receipt.filename, "headers": headers,
                    "size": receipt.size, "sha256": receipt.sha256})
            log.warning("upload %s refused: %s %s", receipt.upload_id, refusal.status, refusal.code)
            return Outcome(refusal.status, receipt.upload_id, refusal.code, refusal.message)
