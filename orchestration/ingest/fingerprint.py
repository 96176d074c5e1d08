"""What an upload's result depends on, as one digest: an unchanged re-run is recognised by it.

A re-run of an upload partition reads the same bytes (the landing stage re-checks their SHA-256),
so it can only produce a different result when something else changed: the code that reads,
normalises and merges them, the verification codes of the file's provider, the keys e-mails and
phones are sealed with, or the reject limit. The digest covers exactly those; the stages skip their
work when the upload's last merge recorded the same digest and its lineage is still whole
(``pipeline.unchanged_since_merge``). A person can always force the full path (``reprocess``).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent
# The code an upload's rows pass through: reading, normalising and validating them, sealing, and
# the SQL functions of the merge.
_CODE = ("ingest/*.py", "identity/*.py", "identity/*.json.gz", "privacy/*.py", "db/sql/*.sql",
         "db/store/*.py", "constants.py")


@lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 over the ingest's source files (names and bytes), once per process."""
    h = hashlib.sha256()
    for pattern in _CODE:
        for path in sorted(_PACKAGE.glob(pattern)):
            h.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def upload_fingerprint(*, content_sha256: str, profile: str, codes: dict[tuple[str, str], bool],
                       key_id: str | None, index_probe: str | None, max_reject_rate: float) -> str:
    """The digest of one upload's inputs (``index_probe``: the blind index of a fixed probe value,
    which changes with the index key and reveals nothing of it)."""
    h = hashlib.sha256()
    for part in (content_sha256, profile, code_digest(), key_id or "", index_probe or "", f"{max_reject_rate:.6f}",
                 *(f"{ch}\x1f{code}\x1f{int(ok)}" for (ch, code), ok in sorted(codes.items()))):
        h.update(part.encode() + b"\x1e")
    return h.hexdigest()
