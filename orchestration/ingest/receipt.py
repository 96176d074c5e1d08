"""Receiving an upload: one verifier behind both doors (HTTP endpoint and signed sidecar drops).

The body is streamed to a temp file while the SHA-256 and HMACs are computed; nothing is parsed
before the signature is verified. Accepted bytes are landed atomically with a manifest; refused
bytes are quarantined, and every outcome is recorded in ``pipeline_events`` (refusals also in
``pipeline_dlq``, with a pointer to the quarantined copy). Messages never include a key or an
expected signature.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from orchestration import constants
from orchestration.db import store
from orchestration.ingest import signing
from orchestration.ingest.landing import Landing, Manifest

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
        self._fh: IO[bytes] | None = open(self._temp, "wb")
        self._first = True
        try:
            self.pending = signing.begin(self.headers, receiver.keys, received_at=received_at)
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
            self.pending.update(chunk)
        # A refused body need not be read on (it is quarantined as far as it came).
        return self.refusal is None or self.refusal.status not in (413, 415)

    def _close(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None

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
    def __init__(self, landing: Landing, keys: list[signing.SigningKey], database_url: str, *,
                 max_bytes: int = DEFAULT_MAX_BYTES, role: str | None = "pipeline_writer"):
        self.landing = landing.ensure()
        self.keys = keys
        self.database_url = database_url
        self.max_bytes = max_bytes
        self.role = role

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
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                if not receipt.feed(chunk):
                    break
        return receipt.finish()

    def _safe_headers(self, receipt: Receipt) -> dict[str, str]:
        # The signature header is evidence, not a secret, but it is left out of records anyway.
        keep = {signing.H_TIMESTAMP, signing.H_SHA256, signing.H_SOURCE, signing.H_KEY_ID}
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
                                                    "door": receipt.door, "filename": receipt.filename})
                        return Outcome(202, receipt.upload_id, "accepted",
                                       f"accepted {verified.size:,} bytes as upload {receipt.upload_id}", manifest)
                receipt.refusal = signing.UploadRefused(
                    409, "replay", f"these exact bytes were already accepted within the last {constants.REPLAY_WINDOW_DAYS} days; "
                    "a re-send is refused so nothing is ingested twice (re-export if the list changed)")
            refusal = receipt.refusal
            assert refusal is not None
            qpath = self.landing.quarantine_file(receipt._temp, receipt.upload_id, {
                **refusal.as_dict(), "headers": headers, "filename": receipt.filename,
                "received_at": receipt.received_at.isoformat(), "door": receipt.door, "size": receipt.size})
            with conn.transaction():
                store.record_event(conn, "upload_refused", stage="receipt", upload_id=receipt.upload_id,
                                   http_status=refusal.status,
                                   details={"code": refusal.code, "message": refusal.message,
                                            "door": receipt.door, "filename": receipt.filename})
                store.record_dlq(conn, "upload_receipt", f"{refusal.code}: {refusal.message}", {
                    "reference": receipt.upload_id, "status": refusal.status, "code": refusal.code,
                    "quarantined": str(qpath), "filename": receipt.filename, "headers": headers,
                    "size": receipt.size})
            log.warning("upload %s refused: %s %s", receipt.upload_id, refusal.status, refusal.code)
            return Outcome(refusal.status, receipt.upload_id, refusal.code, refusal.message)
