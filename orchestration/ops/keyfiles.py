"""The five key files, and the rule that keeps them: created on purpose, never by accident.

A key made silently is worse than a process that does not start. A process that made a new PII data
key or blind-index key because its file was missing (a container without the mount, a typo in a
path) seals values nobody else can open, and its erasure suppressions match nothing — an erased
person could be contacted again. So:

- key files are created only by ``equity keys init`` and by ``equity setup`` on the embedded
  (development) database; neither ever overwrites a file that exists;
- a process that needs keys (the HTTP doors, the code location and its runs, an ingest from the
  terminal) refuses to start, in one line naming the variable, when one of its files is missing or
  unreadable (:func:`require`);
- before it seals anything, it checks that the keys it holds are the ones the warehouse's values
  were sealed and indexed with (:func:`check_warehouse`), and refuses otherwise.

The Dagster webserver and daemon run no project code (sensors and schedules evaluate in the code
server), so they need no key and should not be given any.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orchestration import settings
from orchestration.core.files import private_opener

SERVE = "serve"     # the HTTP doors: uploads, events, consent links
RUNS = "runs"       # the code location: ingest, feed, erasure, housekeeping runs


class KeysNotReady(RuntimeError):
    """A key file missing or unreadable, or keys that do not fit the warehouse: one line to act on."""


@dataclass(frozen=True)
class KeyFile:
    variable: str                   # the setting naming the file
    what: str                       # what it holds, for messages
    needed_by: frozenset[str]       # SERVE, RUNS
    new_text: Callable[[], str]     # a fresh file's content (comments + a random key)

    @property
    def path(self) -> Path:
        return Path(settings.value(self.variable))


def _upload_keys() -> str:
    import secrets

    return ("# active upload keys, one 'key_id:secret' per line; share each with one sender\n"
            f"local-{datetime.now(UTC):%Y%m}:{secrets.token_hex(32)}\n")


def _event_keys() -> str:
    from orchestration.events import webhooks

    return ("# event senders, one 'sender:whsec_...' per line (Standard Webhooks secrets; two\n"
            "# lines for one sender while its secret is rotated)\n"
            f"local:{webhooks.new_secret()}\n")


def _form_secret() -> str:
    from orchestration.campaign import consent

    return consent.new_form_secret() + "\n"


def _index_key() -> str:
    from orchestration.privacy import blind_index

    return ("# blind-index key: sealed e-mails and phones are found by, and erasure suppressions are,\n"
            "# HMACs under it. Back it up with the database's backup keys; never in the database.\n"
            + blind_index.new_key_text())


def _pii_keys() -> str:
    from orchestration.privacy import pii

    return ("# data keys e-mails and phones are sealed with, one 'key_id:64 hex' per line; the\n"
            "# last line seals, the others only open (`equity keys rotate|reencrypt|retire`).\n"
            "# Back it up with the database's backup keys; never in the database.\n"
            + pii.new_key_line(f"k{datetime.now(UTC):%Y%m%d%H%M%S}"))


KEY_FILES: tuple[KeyFile, ...] = (
    KeyFile("EC_UPLOAD_KEYS_FILE", "upload signing keys", frozenset({SERVE, RUNS}), _upload_keys),
    KeyFile("EC_EVENT_KEYS_FILE", "event senders' secrets", frozenset({SERVE}), _event_keys),
    KeyFile("EC_FORM_SECRET_FILE", "the consent links' secret", frozenset({SERVE, RUNS}), _form_secret),
    KeyFile("EC_PII_KEYS_FILE", "PII data keys", frozenset({SERVE, RUNS}), _pii_keys),
    KeyFile("EC_INDEX_KEY_FILE", "blind-index key", frozenset({SERVE, RUNS}), _index_key),
)


def _unreadable(kf: KeyFile) -> str | None:
    path = kf.path
    if not path.exists():
        return "does not exist"
    if not path.is_file():
        return "is not a file"
    if not os.access(path, os.R_OK):
        return "cannot be read by this user"
    try:
        if not path.read_text().strip():
            return "is empty"
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot be read ({type(exc).__name__})"
    return None


def missing(purposes: Iterable[str] = (SERVE, RUNS)) -> list[tuple[KeyFile, str]]:
    """The key files the given purposes need that are missing or unreadable, with why."""
    wanted = set(purposes)
    out = []
    for kf in KEY_FILES:
        if kf.needed_by & wanted:
            why = _unreadable(kf)
            if why:
                out.append((kf, why))
    return out


def write_new(path: Path, text: str) -> bool:
    """Create a private key file (0600, its folder 0700 when created here); False when it exists
    (never overwritten)."""
    if path.exists():
        return False
    created = not path.parent.exists()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if created:
        path.parent.chmod(0o700)
    try:
        fh = open(path, "x", opener=private_opener)
    except FileExistsError:     # another process made it first: theirs stands
        return False
    with fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return True


SEALING = ("EC_PII_KEYS_FILE", "EC_INDEX_KEY_FILE")


def create_missing(url: str | None = None) -> list[KeyFile]:
    """Create every key file that does not exist yet; the ones created. With the warehouse's
    ``url``, a missing data key or index key is not replaced while the warehouse holds values
    sealed with one (KeysNotReady): a new key cannot open them, and the old one must be restored."""
    absent = [kf for kf in KEY_FILES if not kf.path.exists()]
    if url and any(kf.variable in SEALING for kf in absent):
        from orchestration.db import store

        with store.connect(url) as conn:
            sealed = bool(store.sealed_sample(conn, per_end=1))
        if sealed:
            gone = ", ".join(f"{kf.variable}={kf.path}" for kf in absent if kf.variable in SEALING)
            raise KeysNotReady(f"{gone} missing, but the warehouse holds e-mails and phones sealed with it: "
                               "restore the file from the backup of keys (a new key would open none of them; a development "
                               "database can instead be started afresh: `equity stop`, then remove EC_PGDATA)")
    return [kf for kf in absent if write_new(kf.path, kf.new_text())]


def require(*purposes: str) -> None:
    """Refuse (KeysNotReady, one line) when a key file the purposes need is missing or unreadable."""
    gaps = missing(purposes or (SERVE, RUNS))
    if not gaps:
        return
    named = "; ".join(f"{kf.variable}={kf.path} ({kf.what}) {why}" for kf, why in gaps)
    raise KeysNotReady(f"{named}. No key is created by a running process: restore the file(s) from the backup "
                       "of keys, mount them, or create new ones once with `equity keys init`")


def check_warehouse(url: str) -> None:
    """Refuse (KeysNotReady) when this environment's data keys or index key are not the ones the
    warehouse's sealed values were made with. An empty warehouse passes."""
    from orchestration.db import store
    from orchestration.privacy import keys, pii

    try:
        sealer = pii.environment_sealer()
    except (pii.KeyRingError, ValueError, OSError) as exc:
        raise KeysNotReady(str(exc)) from None
    with store.connect(url) as conn:
        reason = keys.warehouse_mismatch(conn, sealer)
    if reason:
        raise KeysNotReady(reason)
