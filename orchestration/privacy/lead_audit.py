"""One person's complete record, in one place: ``equity lead audit --email E | --phone P | --lead ID``.

What was done with their data and why: the leads they hold (or held before a sale), where each came
from (upload, row, vendor source, file, receipt), the owner history, whether a reverse mortgage
can help and every reason it cannot, the consent evidence, every feed (date, batch, broker, push),
the inbound events, the suppressions of their e-mails, phones and properties, every opening of
their values (``pii_decrypted``) and any erasure.

Rules that keep one person's audit from showing another's data:

- a lead the person no longer holds (a previous owner, a sale since) shows its property and the
  person's own owner-history rows only; the current owner's names, e-mail and phone stay out, and
  so do that lead's feeds, events and consents after the person's ownership ended;
- previous-owner rows of other people are left out;
- e-mails and phones are opened only where they are the person's, and the opening is recorded
  (``pii_decrypted``, purpose ``audit``: how many values, never which).

It works after an erasure: the erasure event keeps the blind indexes of the erased values, so
``--email`` still finds the emptied leads, whose ids, properties, suppressions and history remain.
"""

from __future__ import annotations

import getpass
import uuid
from datetime import UTC, datetime

import psycopg

from orchestration.db import store
from orchestration.db.store import lead_audit as q
from orchestration.privacy import pii
from orchestration.privacy.blind_index import IndexKey
from orchestration.privacy.pii import Sealer

_PERSON_FIELDS = ("first_name", "last_name", "email", "phone", "consent", "consented_at", "consent_method",
                  "consent_certificate", "age", "owner_birth_date", "owner_deceased", "probate", "last_reply_at")


_NOTHING = datetime(1970, 1, 1, tzinfo=UTC)


class AuditError(ValueError):
    """The person cannot be named that way; the message says why."""


def _ix(token: str | None) -> str | None:
    return pii.index_of(token) if token else None


def audit(conn: psycopg.Connection, sealer: Sealer | None, index: IndexKey | None, *, email: str | None = None,
          phone: str | None = None, lead_id: str | None = None) -> dict:
    """The person's record as one JSON-ready document; values are opened (and that recorded) only
    when ``sealer`` is given."""
    if sum(x is not None for x in (email, phone, lead_id)) != 1:
        raise AuditError("name the person by exactly one of --email, --phone, --lead")
    key = uuid.UUID(str(lead_id)) if lead_id is not None else None
    if (email or phone) and index is None:
        raise AuditError("a person named by e-mail or phone is found by blind index, and the index key "
                         "(EC_INDEX_KEY_FILE) cannot be read: restore it, or name the lead with --lead")
    person = {"email": index.of("email", email) if email else None,
              "phone": index.of("phone", phone) if phone else None}
    with conn.transaction():
        if key is not None:
            named = q.leads(conn, [key])
            if not named:
                raise AuditError(f"no lead {lead_id}")
            person = {"email": _ix(named[0]["email"]), "phone": _ix(named[0]["phone"])}
        ids = q.person_leads(conn, indexes=person, lead_id=key)
        mine = {v for v in person.values() if v}
        rows = q.leads(conn, ids)
        history = [h for h in q.owner_history(conn, ids) if {_ix(h["email"]), _ix(h["phone"])} & mine]
        out_leads, opened = [], 0
        sources, consents = q.sources(conn, ids), q.consent_evidence(conn, ids)
        feeds, events = q.feeds(conn, ids), q.events(conn, ids, sorted(mine))
        trail = q.pipeline_events(conn, ids)
        in_view = q.in_contactable_view(conn, ids)
        for lead in rows:
            holds = lead["id"] == key or bool({_ix(lead["email"]), _ix(lead["phone"])} & mine) \
                or (lead["erased_at"] is not None and not any(h["lead_id"] == lead["id"] for h in history))
            own = [h for h in history if h["lead_id"] == lead["id"]]
            # a lead held before: only what happened while it was theirs (until their last owner
            # row ended, or, with none left, until the current owner took over; else nothing)
            until = None if holds else (max((h["owner_until"] for h in own), default=None)
                                        or lead["owner_since"] or _NOTHING)

            def within(at, until=until) -> bool:
                return until is None or (at is not None and at <= until)

            doc = dict(lead)
            if not holds:
                for f in _PERSON_FIELDS:
                    doc[f] = None
            if sealer is not None:
                for channel in ("email", "phone"):
                    if doc.get(channel):
                        doc[channel] = sealer.open(channel, doc[channel])
                        opened += 1
            reasons = lead["ineligible_reasons"]
            doc["holds_now"] = holds
            doc["in_contactable_view"] = None if in_view is None else lead["id"] in in_view
            doc["eligibility"] = {"judged": reasons is not None, "eligible": None if reasons is None else not reasons,
                                  "reasons": reasons or []}
            doc["sources"] = [s for s in sources if s["lead_id"] == lead["id"]]
            doc["owner_history"] = []
            for h in own:
                h = dict(h)
                if sealer is not None:
                    for channel in ("email", "phone"):
                        if h.get(channel):
                            h[channel] = sealer.open(channel, h[channel])
                            opened += 1
                doc["owner_history"].append(h)
            doc["consent_evidence"] = [c for c in consents if c["lead_id"] == lead["id"] and within(c["consented_at"])]
            doc["feeds"] = [f for f in feeds if f["lead_id"] == lead["id"]
                            and within(datetime.combine(f["feed_date"], datetime.min.time(), UTC))]
            doc["events"] = [e for e in events if e["lead_id"] == lead["id"] and within(e["occurred_at"])]
            doc["pipeline_events"] = [e for e in trail if _names(e, lead["id"]) and within(e["created_at"])]
            out_leads.append(doc)
        # events naming the person's e-mail or phone that matched none of their leads
        unmatched = [e for e in events if e["lead_id"] not in set(ids)]
        entries = sorted({("email", v) for v in [person["email"]] if v} | {("phone", v) for v in [person["phone"]] if v}
                         | {("address", lead["addr_hash"]) for lead in rows if lead["addr_hash"]})
        suppressions = q.suppressions(conn, entries)
        known = {(s["channel"], s["value"], s["reason"]) for s in suppressions}
        suppressions += [s for s in q.erasure_suppressions(conn, ids)
                         if (s["channel"], s["value"], s["reason"]) not in known]
        if opened:
            store.record_event(conn, "pii_decrypted", stage="lead_audit", row_count=opened,
                               lead_id=ids[0] if ids else None,
                               details={"purpose": "audit", "values": opened, "lead_ids": [str(i) for i in ids],
                                        "by": getpass.getuser()})
    return {
        "generated_at": datetime.now(UTC),
        "person": {"named_by": "lead" if key else "email" if email else "phone",
                   "blind_indexes": person, "leads": [str(i) for i in ids],
                   "erased": any(r["erased_at"] is not None for r in rows),
                   "values_opened": opened, "sealed": sealer is None},
        "leads": out_leads,
        "events_without_lead": unmatched,
        "suppressions": suppressions,
        "decryptions": [e for e in trail if e["event_type"] == "pii_decrypted"],
        "erasures": [e for e in trail if e["event_type"] == "erasure"],
    }


def _yes_no(flag: bool | None) -> str:
    return "-" if flag is None else "yes" if flag else "no"


def _names(event: dict, lead_id) -> bool:
    d = event.get("details") or {}
    return event.get("lead_id") == lead_id or d.get("lead_id") == str(lead_id) or str(lead_id) in (d.get("lead_ids") or [])


def text(doc: dict) -> str:
    """The record as an operator reads it."""
    p = doc["person"]
    lines = [f"person named by {p['named_by']}: {len(p['leads'])} lead(s)"
             + ("; ERASED" if p["erased"] else "") + (" (values sealed: no data keys)" if p["sealed"] else "")]
    for lead in doc["leads"]:
        e = lead["eligibility"]
        elig = "not judged yet" if not e["judged"] else "eligible" if e["eligible"] else \
            "NOT eligible: " + ", ".join(e["reasons"])
        lines += ["", f"lead {lead['id']} ({'holds it now' if lead['holds_now'] else 'held it before'})",
                  f"  property   {lead['property_address'] or '-'}, {lead['property_city'] or '-'} "
                  f"{lead['property_state'] or ''} {lead['property_zip'] or ''}",
                  f"  person     {lead['first_name'] or ''} {lead['last_name'] or ''}  {lead['email'] or '-'}  "
                  f"{lead['phone'] or '-'}",
                  f"  status     {lead['campaign_status']}, score {lead['lead_score']}, broker "
                  f"{lead['broker_name'] or '-'}; consent {lead['consent']} ({lead['consent_method'] or '-'}); "
                  f"e-mail {'verified' if lead['email_verified'] else 'not verified'}; in the contactable view "
                  f"(last refresh): {_yes_no(lead['in_contactable_view'])}",
                  f"  eligibility {elig}"]
        if lead["erased_at"]:
            lines.append(f"  erased     {lead['erased_at']:%Y-%m-%d %H:%M %Z}")
        for s in lead["sources"]:
            lines.append(f"  source     upload {s['upload_id']} row {s['row_number']} ({s['vendor'] or '-'}, "
                         f"{s['filename'] or '-'}) received {s['received_at']:%Y-%m-%d %H:%M}")
        for h in lead["owner_history"]:
            lines.append(f"  owned      until {h['owner_until']:%Y-%m-%d} ({h['first_name'] or ''} {h['last_name'] or ''})")
        for c in lead["consent_evidence"]:
            lines.append(f"  consent    {c['consented_at']:%Y-%m-%d %H:%M} via {c['method']}, page {c['page_version']} "
                         f"sha256 {(c['page_sha256'] or '-')[:16]}..., batch {c['batch_id']} of {c['feed_date']}")
        for f in lead["feeds"]:
            lines.append(f"  fed        {f['feed_date']} batch {f['batch_id']} score {f['lead_score']} "
                         f"push {f['push_status'] or '-'}")
        for ev in lead["events"]:
            why = f" (revoked: {ev['data']['revoked']})" if ev["data"].get("revoked") else ""
            lines.append(f"  event      {ev['occurred_at']:%Y-%m-%d %H:%M} {ev['type']} from {ev['source']}{why}")
        for ev in lead["pipeline_events"]:
            lines.append(f"  pipeline   {ev['created_at']:%Y-%m-%d %H:%M} {ev['event_type']}")
    if doc["suppressions"]:
        lines += ["", "suppressions"]
        lines += [f"  {s['channel']:8} {s['reason']:16} {s['source']}  {s['created_at']:%Y-%m-%d}"
                  for s in doc["suppressions"]]
    lines += ["", f"values opened: {len(doc['decryptions'])} recorded opening(s) before this one; "
                  f"this audit opened {p['values_opened']}"]
    return "\n".join(lines)
