"""The suppression list from an operator's side: import Do-Not-Call files, add, remove, list.

One table (``suppressions``: channel, value, reason, source) holds everyone nobody may contact,
whatever lead they are on; ``lead_is_suppressed()`` (SQL) is the rule the contactable model and the
feeder apply. E-mails and phones are stored as their blind indexes (HMAC under the index key kept
outside the database, orchestration.privacy.blind_index) of the normalised value (lower-case e-mail, E.164
phone): the leads hold them sealed (orchestration.privacy.pii), and ``pii_index`` of a lead's token is the
same index. Addresses are the lead's ``addr_hash``.

Removing a suppression is refused for the reasons a person or the law put there
(``unsubscribe``, ``complaint``, ``litigator``, ``erasure``, ``deceased``, ``revoked`` — a reply
that said stop — and ``deletion_request`` — a hashed deletion list matched,
orchestration.privacy.deletion_list): only list entries an operator or a provider manages
(``dnc_internal``, ``dnc_federal``, ``bounce``) can be taken back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import psycopg

from orchestration.privacy.blind_index import IndexKey
from orchestration.db import store

REASONS = ("unsubscribe", "bounce", "complaint", "dnc_internal", "dnc_federal", "litigator", "erasure",
           "deceased", "revoked", "deletion_request")
IMPORT_REASONS = ("dnc_federal", "dnc_internal")
REMOVABLE = frozenset({"dnc_internal", "dnc_federal", "bounce"})
_DIGITS = re.compile(r"\D+")


class SuppressionError(ValueError):
    """An operator request that cannot be done; the message says why."""


def phone_from_line(line: str) -> str | None:
    """A Do-Not-Call file line -> E.164. The registry's files hold one 10-digit number per line
    (area code + number, sometimes with separators or a leading 1); anything else is not a phone."""
    digits = _DIGITS.sub("", line)
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != 10 or digits[0] in "01":
        return None
    return "+1" + digits


@dataclass
class ImportResult:
    lines: int
    numbers: int
    not_numbers: int
    added: int
    leads_unverified: int
    seconds: float


def _valid_numbers(lines: Iterable[str], counts: dict[str, int]) -> Iterator[str]:
    for line in lines:
        if not line.strip():
            continue
        counts["lines"] += 1
        phone = phone_from_line(line)
        if phone is None:
            counts["bad"] += 1
            continue
        yield phone


def import_phones(conn: psycopg.Connection, lines: Iterable[str], reason: str, source: str,
                  index: IndexKey) -> ImportResult:
    """Load a Do-Not-Call file (one number per line, millions of lines) set-based: COPY into a work
    table, one INSERT ... ON CONFLICT into the list, and the matching leads' phones lose their
    verified flag. One transaction: a failed import adds nothing."""
    if reason not in IMPORT_REASONS:
        raise SuppressionError(f"an imported phone list is {' or '.join(IMPORT_REASONS)}, not {reason!r}")
    t0 = time.perf_counter()
    counts = {"lines": 0, "bad": 0}
    with conn.transaction():
        indexes = (index.of("phone", phone) for phone in _valid_numbers(lines, counts))
        added, unverified = store.suppress_imported_phones(conn, indexes, reason, source)
        result = ImportResult(counts["lines"], counts["lines"] - counts["bad"], counts["bad"], added, unverified,
                              time.perf_counter() - t0)
        store.record_event(conn, "suppressions_imported", stage="suppressions", row_count=added,
                           duration_ms=int(result.seconds * 1000),
                           details={"reason": reason, "source": source, "lines": result.lines,
                                    "numbers": result.numbers, "not_numbers": result.not_numbers,
                                    "added": added, "leads_unverified": unverified})
    return result


def normalised(channel: str, value: str, index: IndexKey) -> str:
    """The stored form of an operator's value: the blind index of an e-mail or phone normalised
    like the ingest does, an address hash as given."""
    from orchestration.identity import normalize
    from orchestration.identity.normalize import one

    if channel == "email":
        out = one(normalize.email, value)
    elif channel == "phone":
        out = one(normalize.phone_e164, value)
    else:
        out = value.strip().lower() if re.fullmatch(r"[0-9a-fA-F]{64}", value.strip()) else None
    if out is None:
        raise SuppressionError(f"{value!r} is not a valid {'address hash (64 hex digits)' if channel == 'address' else channel}")
    return index.of(channel, out) if channel in ("email", "phone") else out


def add(conn: psycopg.Connection, channel: str, value: str, reason: str, source: str, index: IndexKey) -> bool:
    if reason not in REASONS:
        raise SuppressionError(f"reason must be one of {', '.join(REASONS)}")
    with conn.transaction():
        added = store.add_suppression(conn, channel, normalised(channel, value, index), reason, source)
        store.record_event(conn, "suppression_added", stage="suppressions", row_count=int(added),
                           details={"channel": channel, "reason": reason, "source": source})
    return added


def remove(conn: psycopg.Connection, channel: str, value: str, reason: str, who: str, index: IndexKey) -> bool:
    if reason not in REMOVABLE:
        raise SuppressionError(f"a {reason!r} suppression cannot be removed: a person or the law put it there "
                               f"(removable: {', '.join(sorted(REMOVABLE))})")
    with conn.transaction():
        removed = store.remove_suppression(conn, channel, normalised(channel, value, index), reason)
        store.record_event(conn, "suppression_removed", stage="suppressions", row_count=int(removed),
                           details={"channel": channel, "reason": reason, "by": who})
    return removed
