"""The landing directory: where accepted uploads wait for the sensor.

Layout (all under ``EC_LANDING_DIR``)::

    incoming/     SFTP-style drops: FILE plus FILE.sig.json (written by ``equity sign``)
    uploads/      accepted uploads: <upload_id>.csv and <upload_id>.json (the manifest, written last)
    quarantine/   refused uploads: <id>.json (why, headers, size, SHA-256) and <id>.head (at most
                  the first few KiB of the body; the rest of a refused body is never kept)
    .tmp/         partial writes; never read

Every write is atomic (temp file, fsync, rename): a reader never sees half a file, and the
manifest appears only after its CSV is complete. The lists hold people's names, e-mails and
phones: folders are 0700 and files 0600, whatever the umask.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from orchestration import constants
from orchestration.core.files import write_atomic

SIDECAR_SUFFIX = ".sig.json"


@dataclass(frozen=True)
class Manifest:
    upload_id: str
    source: str
    sha256: str
    received_at: str   # RFC 3339 UTC
    key_id: str
    size: int
    filename: str      # original name, for people
    door: str          # "http" or "sidecar"

    def received(self) -> datetime:
        return datetime.fromisoformat(self.received_at.replace("Z", "+00:00"))


class Landing:
    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.incoming = self.root / "incoming"
        self.uploads = self.root / "uploads"
        self.quarantine = self.root / "quarantine"
        self.tmp = self.root / ".tmp"

    def ensure(self) -> "Landing":
        for d in (self.root, self.incoming, self.uploads, self.quarantine, self.tmp):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            if d.stat().st_mode & 0o077:
                d.chmod(0o700)
        return self

    @staticmethod
    def new_upload_id(now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)

    def temp_path(self, upload_id: str) -> Path:
        return self.tmp / f"{upload_id}.part"

    def data_path(self, upload_id: str) -> Path:
        return self.uploads / f"{upload_id}.csv"

    def manifest_path(self, upload_id: str) -> Path:
        return self.uploads / f"{upload_id}.json"

    def accept(self, temp: Path, manifest: Manifest) -> Path:
        """Move a fully written, fsynced temp file into uploads/ and write its manifest last."""
        target = self.data_path(manifest.upload_id)
        os.replace(temp, target)
        write_atomic(self.manifest_path(manifest.upload_id), json.dumps(asdict(manifest), indent=2), tmp_dir=self.tmp)
        return target

    def quarantine_file(self, temp: Path | None, qid: str, reason: dict, *,
                        keep_bytes: int = constants.QUARANTINE_HEAD_BYTES) -> Path:
        """Record a refused upload: its reason as ``<qid>.json`` and at most the first ``keep_bytes``
        of its body as ``<qid>.head`` (enough to see what was sent); the body itself is deleted.
        Returns the record's path."""
        record = self.quarantine / f"{qid}.json"
        if temp is not None and temp.exists():
            with open(temp, "rb") as fh:
                head = fh.read(keep_bytes)
            if head:
                write_atomic(self.quarantine / f"{qid}.head", head, tmp_dir=self.tmp)
                reason = {**reason, "head_file": f"{qid}.head", "head_bytes": len(head)}
            temp.unlink(missing_ok=True)
        write_atomic(record, json.dumps(reason, indent=2, default=str), tmp_dir=self.tmp)
        return record

    def read_manifest(self, upload_id: str) -> Manifest:
        path = self.manifest_path(upload_id)
        if not path.exists():
            raise FileNotFoundError(f"no accepted upload {upload_id!r} in {self.uploads}")
        return Manifest(**json.loads(path.read_text()))

    def scan_manifests(self, since_ns: int) -> list[tuple[int, str]]:
        """(mtime_ns, upload_id) of manifests modified at or after ``since_ns``, oldest first."""
        out = []
        if not self.uploads.exists():
            return out
        with os.scandir(self.uploads) as it:
            for entry in it:
                if entry.name.endswith(".json"):
                    m = entry.stat().st_mtime_ns
                    if m >= since_ns:
                        out.append((m, entry.name[:-5]))
        out.sort()
        return out

    def scan_sidecars(self) -> list[Path]:
        if not self.incoming.exists():
            return []
        return sorted(p for p in self.incoming.iterdir() if p.name.endswith(SIDECAR_SUFFIX))


