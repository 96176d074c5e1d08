"""Erasing a person on request, and keeping them erased.

``equity erase --email E | --phone P | --lead ID`` finds the person's leads (by the e-mail or phone
they hold now, or the lead named), then in one transaction:

- records ``erasure`` suppressions by blind index (orchestration.privacy.blind_index): every e-mail and
  phone the leads held (the chosen ones and the payload's others) and the owner at the property
  (address key + owner key) — the database keeps no value, yet a later upload naming them is
  recognised;
- empties the leads' personal fields (names, e-mails, phones, payload, verification, notes, owner
  key), sets them ``do_not_contact`` and stamps ``erased_at``; the rows stay, with their ids and
  property keys, because feeds, pushes, events and consent audits refer to them;
- removes the person's sealed values from previous-owner rows, validated rows and inbound events,
  the staged rows (plain text) and the DLQ items quoting them (found by the blind indexes a sealed
  record carries);
- removes their lines from files kept within retention: campaign exports and landed uploads (a
  landed file's manifest then records the new SHA-256 and the redaction, so its partition can still
  be re-run) and quarantine heads.

It prints what it removed and is idempotent (a second run removes nothing).

The warehouse holds e-mails and phones sealed (orchestration.privacy.pii): rows are found by blind index
(``pii_index``), and the person's tokens are opened only to find their lines in files (whose
text is plain); that opening is recorded as a ``pii_decrypted`` event.

At merge time, ``erased_rows`` finds an upload's validated rows that name an erased person, and
``scrub_rows`` empties their personal fields before the merge: the property may still be merged,
never the person.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from orchestration.db import store
from orchestration.privacy import blind_index, pii
from orchestration.core.files import write_atomic
from orchestration.core.landing import Landing

class NoIndexKey(RuntimeError):
    """Erasures exist but no index key is configured: an erased person could not be recognised."""


@dataclass
class Report:
    leads: int = 0
    suppressions_added: int = 0
    owner_history_rows: int = 0
    work_rows: int = 0
    dlq_payloads: int = 0
    lead_events: int = 0
    export_lines: int = 0
    landed_lines: int = 0
    quarantine_heads: int = 0
    lead_ids: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if k != "lead_ids"}

    @property
    def removed_anything(self) -> bool:
        return any(self.counts().values())


def _tokens_of(row: dict) -> tuple[set[str], set[str]]:
    """Every sealed e-mail and phone a lead holds: its chosen ones and the payload's others."""
    emails, phones = {row.get("email")}, {row.get("phone")}
    payload = row.get("melissa_payload") or {}
    emails |= {e.get("address") for e in payload.get("emails", []) if isinstance(e, dict)}
    phones |= {p.get("number") for p in payload.get("phones", []) if isinstance(p, dict)}
    return {e for e in emails if pii.is_token(e)}, {p for p in phones if pii.is_token(p)}


def _find_leads(conn: psycopg.Connection, key: blind_index.IndexKey, *, email: str | None, phone: str | None,
                lead_id: str | None) -> list[dict]:
    if lead_id:
        return store.leads_of_person(conn, lead_id=lead_id)
    channel, value = ("email", email) if email else ("phone", phone)
    return store.leads_of_person(conn, channel=channel, index=key.of(channel, value))


def _redact_csv(path: Path, needles: list[str]) -> int:
    """Drop the lines of a CSV that hold any of ``needles`` (case-insensitive); returns how many."""
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    lowered = [n.lower() for n in needles]
    kept, dropped = [], 0
    for i, record in enumerate(io.StringIO(text, newline="").readlines()):
        if i > 0 and any(n in record.lower() for n in lowered):
            dropped += 1
            continue
        kept.append(record)
    if dropped:
        data = "".join(kept).encode("utf-8", errors="surrogateescape")
        write_atomic(path, data)
    return dropped


def _phone_forms(phone: str) -> list[str]:
    """How a phone stored as E.164 may be written in a file: +14155550100, 415-555-0100, (415) 555-0100."""
    digits = phone[2:] if phone.startswith("+1") and len(phone) == 12 else phone.lstrip("+")
    if len(digits) != 10:
        return [phone]
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return [phone, digits, f"{a}-{b}-{c}", f"({a}) {b}-{c}", f"{a}.{b}.{c}", f"{a} {b} {c}"]


def erase(conn: psycopg.Connection, sealer: pii.Sealer, landing: Landing, outbox: Path | None, *,
          email: str | None = None, phone: str | None = None, lead_id: str | None = None,
          source: str = "equity erase", before_removal=None) -> Report:
    """Erase the person named by exactly one of ``email``, ``phone``, ``lead_id`` (see the module).

    ``before_removal(emails)``, when given, is called with the person's plain e-mails after their
    suppressions are recorded and before any value is removed (the campaign tool's block list is
    told while the address can still be named); if it raises, nothing is erased."""
    if sum(x is not None for x in (email, phone, lead_id)) != 1:
        raise ValueError("name the person by exactly one of --email, --phone, --lead")
    key = sealer.index
    report = Report()
    with conn.transaction():
        leads = _find_leads(conn, key, email=email, phone=phone, lead_id=lead_id)
        emails = {email.strip().lower()} if email else set()       # plain values: to find file lines
        phones = {phone} if phone else set()
        indexes = {("email", key.of("email", email))} if email else {("phone", key.of("phone", phone))} if phone \
            else set()
        owners = set()
        opened = 0
        for row in leads:
            mail_tokens, phone_tokens = _tokens_of(row)
            indexes |= {("email", pii.index_of(x)) for x in mail_tokens} | {("phone", pii.index_of(x))
                                                                            for x in phone_tokens}
            emails |= {sealer.open("email", x) for x in mail_tokens}
            phones |= {sealer.open("phone", x) for x in phone_tokens}
            opened += len(mail_tokens) + len(phone_tokens)
            if row.get("addr_hash") and row.get("owner_key"):
                owners.add(f"{row['addr_hash']}|{row['owner_key']}")
        entries = sorted(indexes) + [("owner", key.of("owner", o)) for o in owners]
        report.suppressions_added = sum(store.add_suppression(conn, channel, value, "erasure", source)
                                        for channel, value in entries)
        ids = [row["id"] for row in leads]
        report.lead_ids = [str(i) for i in ids]
        email_list, phone_list = sorted(emails), sorted(phones)
        index_list = sorted(v for _, v in indexes)
        if before_removal is not None and email_list:
            before_removal(email_list)
        report.leads = store.erase_leads(conn, ids)
        report.owner_history_rows = store.erase_owner_history(conn, index_list)
        needles = email_list + [f for p in phone_list for f in _phone_forms(p)]
        like = [f"%{n}%" for n in needles]
        report.work_rows = store.erase_work_rows(conn, index_list, like)
        if needles:
            report.dlq_payloads = store.scrub_dlq_of_person(conn, index_list, like)
        report.lead_events = store.erase_lead_events(conn, ids, index_list, like)
        # Files within retention.
        if needles:
            if outbox is not None and outbox.exists():
                for path in outbox.rglob("*.csv"):
                    report.export_lines += _redact_csv(path, needles)
            for path in landing.uploads.glob("*.csv") if landing.uploads.exists() else []:
                dropped = _redact_csv(path, needles)
                if dropped:
                    report.landed_lines += dropped
                    _record_redaction(landing, path, dropped)
            for path in landing.quarantine.glob("*.head") if landing.quarantine.exists() else []:
                low = path.read_bytes().decode("utf-8", errors="replace").lower()
                if any(n.lower() in low for n in needles):
                    path.unlink()
                    report.quarantine_heads += 1
        if opened:
            store.record_event(conn, "pii_decrypted", stage="erase", row_count=opened,
                               details={"purpose": "erasure: find the person's lines in files", "values": opened})
        store.record_event(conn, "erasure", stage="erase", details={**report.counts(), "lead_ids": report.lead_ids})
    return report


def _record_redaction(landing: Landing, path: Path, dropped: int) -> None:
    """A landed file lost lines: its manifest takes the new size and SHA-256 (so the partition can
    still be re-run) and says so."""
    upload_id = path.stem
    manifest_path = landing.manifest_path(upload_id)
    if not manifest_path.exists():
        return
    data = json.loads(manifest_path.read_text())
    body = path.read_bytes()
    data.update(size=len(body), sha256=hashlib.sha256(body).hexdigest())
    data["redacted_lines"] = int(data.get("redacted_lines", 0)) + dropped
    write_atomic(manifest_path, json.dumps(data, indent=2))


# -- at merge time ------------------------------------------------------------------------------

def erased_rows(conn: psycopg.Connection, sealer: pii.Sealer | None, upload_id: str) -> dict[int, set[str]]:
    """The upload's validated rows that name an erased person (an e-mail or phone, chosen or in the
    payload, or the owner at the property, under an ``erasure`` suppression): row number -> the
    row's e-mails and phones opened (what must leave the landed file too).

    E-mails and phones are matched in SQL by the blind index their tokens carry. The owner at a
    property is an HMAC of its address key and owner key, computed here only for the rows at an
    erased lead's address. Nothing runs while no erasure exists."""
    wanted = store.erasure_entries(conn)
    if not wanted:
        return {}
    if sealer is None:
        raise NoIndexKey("erasure suppressions exist but no index key is configured (EC_INDEX_KEY_FILE): "
                         "without it an erased person could not be recognised, so nothing is merged")
    rows = store.rows_naming_erased(conn, upload_id)
    found: dict[int, set[str]] = {}
    for row in rows:
        if row["owner"] is not None and ("owner", sealer.index.of("owner", row["owner"])) not in wanted:
            continue
        mail_tokens, phone_tokens = _tokens_of(row)
        found.setdefault(int(row["row_number"]), set()).update(
            [sealer.open("email", x) for x in mail_tokens] + [sealer.open("phone", x) for x in phone_tokens])
    return found


def scrub_rows(conn: psycopg.Connection, landing: Landing, upload_id: str, found: dict[int, set[str]]) -> int:
    """Remove the person from the upload's rows ``found`` (erased_rows): the validated rows keep
    their property but lose every personal field, their staged rows (in-file duplicates too) go,
    and so do the landed file's lines holding their e-mails or phones (the manifest records it)."""
    if not found:
        return 0
    numbers = sorted(found)
    scrubbed = store.scrub_upload_rows(conn, upload_id, numbers)
    needles = sorted({f for values in found.values() for v in values
                      for f in (_phone_forms(v) if v.startswith("+") else [v])})
    path = landing.data_path(upload_id)
    if needles and path.exists():
        dropped = _redact_csv(path, needles)
        if dropped:
            _record_redaction(landing, path, dropped)
    return scrubbed


def summary_text(report: Report) -> str:
    lines = [f"  {k.replace('_', ' ')}: {v}" for k, v in report.counts().items()]
    head = "erased" if report.removed_anything else "nothing left to remove (already erased, or not found)"
    return head + "\n" + "\n".join(lines)

