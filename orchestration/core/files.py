"""Files the pipeline writes and re-reads: one way to replace a file atomically, one way to follow a
file that an operator edits while the process runs.

- ``write_atomic`` writes a private (0600) temp file beside the target (or in a given folder on the
  same file system), fsyncs it, renames it over the target and fsyncs the folder: a reader sees the
  old bytes or the new ones, never half of them, and a crash leaves no half-written target.
- ``Reloading`` re-parses a file when its modification time or size changes; a file that cannot be
  parsed keeps the last good value in force (a half-saved edit of a keys file must neither open nor
  close a door) and says why on ``error``.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
_NO_STAMP = (-1, -1)      # no file has it: "nothing found broken" (None is a missing file's stamp)


def private_opener(path, flags):
    """``open(..., opener=private_opener)``: a new file readable by its owner alone (0600)."""
    return os.open(path, flags, 0o600)


def write_fsynced(path: Path, chunks: Iterable[bytes]) -> int:
    """Write ``chunks`` to a new private file and fsync it; the bytes written."""
    size = 0
    with open(path, "wb", opener=private_opener) as fh:
        for chunk in chunks:
            fh.write(chunk)
            size += len(chunk)
        fh.flush()
        os.fsync(fh.fileno())
    return size


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path | str, data: bytes | str, *, tmp_dir: Path | None = None) -> Path:
    """Replace ``path`` with ``data`` (0600) in one rename; ``tmp_dir`` must be on the same file system."""
    path = Path(path)
    tmp = (tmp_dir or path.parent) / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        write_fsynced(tmp, [data.encode() if isinstance(data, str) else data])
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


class Reloading(Generic[T]):
    """The parsed content of a file, re-read when the file changes (thread-safe).

    A missing file is ``missing`` (its own value, e.g. no keys). A file that cannot be read or
    parsed (``parse`` raises ValueError or OSError) keeps the last good value, and ``error`` says
    why, logged once per distinct error; the parse error must not quote the file's secrets.
    """

    def __init__(self, path: Path | str, parse: Callable[[str], T], *, missing: T, what: str = "file"):
        self.path, self.parse, self.missing, self.what = Path(path), parse, missing, what
        self.error: str | None = None
        self._stamp: tuple[int, int] | None = None
        self._broken: tuple[int, int] | None = _NO_STAMP  # the stamp of the file last found unreadable
        self._value: T = missing
        self._lock = threading.Lock()

    def current(self) -> T:
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            # a file already found broken is not read again until it changes (the door asks per request)
            if stamp != self._stamp and stamp != self._broken:
                try:
                    self._value = self.parse(self.path.read_text()) if stamp else self.missing
                except (OSError, ValueError) as exc:
                    error = f"{self.path}: {exc}"
                    if error != self.error:
                        log.warning("%s not read, the last good one stays in force: %s", self.what, error)
                    self.error, self._broken = error, stamp
                else:
                    self.error, self._broken = None, _NO_STAMP
                    self._stamp = stamp
            return self._value
