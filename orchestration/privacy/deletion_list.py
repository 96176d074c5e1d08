"""Hashed deletion lists: people who asked every data broker to delete them, as SHA-256 hashes.

California's Delete Act has data brokers pull the state's deletion requests every 45 days (from
August 2026) and never sell that person's data again; such lists, and similar ones from other
sources, arrive as SHA-256 hashes of normalised identifiers, never the values.
``equity suppress import FILE --hashed sha256`` keeps the hashes (``deletion_requests``), matches
every e-mail and phone the warehouse holds against them, and each later upload is matched before
its merge. A match puts that e-mail or phone on the suppression list (reason
``deletion_request``, stored as its blind index like every suppression): no lead holding it is
contacted again, on any lead.

**How a value is hashed** (what the list's sender must do, and what is compared here): SHA-256 of
the UTF-8 bytes, written as 64 lower-case hex digits, of

- an e-mail trimmed and lower-cased (``Jane.Doe@Example.com `` -> ``jane.doe@example.com``);
- a US phone as its digits: both the 10-digit national number (``2085550100``) and the E.164 form
  (``+12085550100``) and ``12085550100`` are compared, so a list made with any of the three matches.

**The file**: one hash per line, optionally with its kind before or after it, separated by a comma,
tab or space (``email,<hash>``, ``<hash>,phone``); a header line, blank lines and ``#`` comments are
skipped; upper-case hex is accepted. A line that holds no 64-hex-digit hash is counted, not loaded.
Importing the same file again adds nothing (hashes and suppressions are keyed).

Matching opens the warehouse's sealed values (each distinct value once: a value has one token
wherever it appears); the opening is recorded as a ``pii_decrypted`` event (how many values,
never which).
"""

from __future__ import annotations

import getpass
import hashlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

from orchestration.db import store
from orchestration.privacy import pii
from orchestration.privacy.pii import Sealer

REASON = "deletion_request"
_HASH = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
_KINDS = {"email": "email", "e-mail": "email", "mail": "email", "phone": "phone", "telephone": "phone",
          "tel": "phone", "mobile": "phone"}


class DeletionListError(ValueError):
    """A request that cannot be done; the message says why."""


def parse_line(line: str) -> tuple[str, str] | None:
    """(channel 'email' | 'phone' | 'any', lower-case hex) of one line, or None when it holds no hash."""
    found = _HASH.findall(line)
    if len(found) != 1:
        return None
    words = {w.lower() for w in re.split(r"[\s,;\t|]+", _HASH.sub(" ", line)) if w}
    kinds = {_KINDS[w] for w in words if w in _KINDS}
    return (kinds.pop() if len(kinds) == 1 else "any"), found[0].lower()


def hashes_of(channel: str, value: str) -> list[str]:
    """The SHA-256 hex digests a list may hold for one normalised value (see the module doc)."""
    if channel == "email":
        forms = [value.strip().lower()]
    else:
        digits = re.sub(r"\D", "", value)
        national = digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
        forms = [national, "+1" + national, "1" + national]
    return [hashlib.sha256(f.encode()).hexdigest() for f in forms]


@dataclass
class Matched:
    values_opened: int = 0
    values_matched: int = 0
    suppressions_added: int = 0


def match(conn: psycopg.Connection, sealer: Sealer | None, *, upload_id: str | None, source: str) -> Matched:
    """Match the held e-mails and phones (of one upload's validated rows, or of every lead when
    ``upload_id`` is None) against every deletion request; suppress what matches. Call it inside a
    transaction. Opens nothing when no request is held."""
    out = Matched()
    wanted = store.deletion_hashes(conn)
    if not wanted:
        return out
    if sealer is None:
        raise DeletionListError("hashed deletion requests are held, and matching them opens the sealed e-mails and "
                                "phones: the data keys (EC_PII_KEYS_FILE, EC_INDEX_KEY_FILE) cannot be read; restore "
                                "them, or create them once with `equity keys init`")
    hits: list[tuple[str, str]] = []
    for channel, token in store.person_tokens(conn, upload_id):
        value = sealer.open(channel, token)
        out.values_opened += 1
        if any(h in wanted.get(channel, ()) or h in wanted.get("any", ()) for h in hashes_of(channel, value)):
            hits.append((channel, pii.index_of(token)))
    out.values_matched = len(hits)
    if hits:
        out.suppressions_added = store.add_suppressions(conn, hits, REASON, source)
    if out.values_opened:
        store.record_event(conn, "pii_decrypted", stage="deletion_requests", upload_id=upload_id,
                           row_count=out.values_opened,
                           details={"purpose": "match hashed deletion requests", "values": out.values_opened,
                                    "by": getpass.getuser()})
    return out


@dataclass
class ImportResult:
    lines: int
    hashes: int
    not_hashes: int
    by_channel: dict[str, int]
    added: int
    matched: Matched
    leads_matched: int
    seconds: float


def import_hashes(conn: psycopg.Connection, lines: Iterable[str], source: str, sealer: Sealer) -> ImportResult:
    """Load a hashed deletion list and match the warehouse against every request held, in one
    transaction (a failed import adds nothing)."""
    t0 = time.perf_counter()
    counts = {"lines": 0, "bad": 0}
    found: dict[tuple[str, str], None] = {}
    for n, line in enumerate(lines):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parsed = parse_line(text)
        if parsed is None:
            if n == 0 and not _HASH.search(text):
                continue                      # a header
            counts["bad"] += 1
        else:
            found[parsed] = None
        counts["lines"] += 1
    if not found:
        raise DeletionListError(f"no SHA-256 hash (64 hex digits) in {counts['lines']:,} lines: is it a hashed "
                                "deletion list? (one hash per line, optionally with 'email' or 'phone')")
    by_channel = {c: sum(1 for k, _ in found if k == c) for c in ("email", "phone", "any")}
    with conn.transaction():
        added = store.add_deletion_hashes(conn, list(found), source)
        matched = match(conn, sealer, upload_id=None, source=source)
        leads = store.leads_with_suppression_reason(conn, REASON, source)
        result = ImportResult(counts["lines"], len(found), counts["bad"], by_channel, added, matched, leads,
                              time.perf_counter() - t0)
        store.record_event(conn, "deletion_list_imported", stage="deletion_requests", row_count=added,
                           duration_ms=int(result.seconds * 1000),
                           details={"source": source, "lines": result.lines, "hashes": result.hashes,
                                    "not_hashes": result.not_hashes, "by_channel": by_channel,
                                    "hashes_added": added, "values_matched": matched.values_matched,
                                    "suppressions_added": matched.suppressions_added, "leads_matched": leads})
    return result
