"""One person's complete record, table by table (``equity lead audit``, orchestration.privacy.lead_audit):
the leads they hold or held, and everything recorded about those leads and their e-mails and phones."""

from __future__ import annotations

import uuid

import psycopg
from psycopg.rows import dict_row

LEAD_FIELDS = ("id", "first_name", "last_name", "email", "phone", "property_address", "property_city",
               "property_state", "property_zip", "property_county", "mak", "apn", "addr_hash", "source",
               "assigned_broker_id", "lead_score", "campaign_status", "consent", "consented_at", "consent_method",
               "consent_certificate", "age", "owner_birth_date", "owner_occupied", "property_type",
               "property_value", "open_mortgage_balance", "owner_deceased", "vacant", "probate",
               "ineligible_reasons", "email_verified", "phone_verified", "added_to_campaign_at", "last_reply_at",
               "owner_since", "erased_at", "created_at", "updated_at", "last_seen_at")


def _rows(conn: psycopg.Connection, query: str, params) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def person_leads(conn: psycopg.Connection, *, indexes: dict[str, str], lead_id: uuid.UUID | None) -> list[uuid.UUID]:
    """Ids of the leads of one person: the lead named, every lead holding the person's e-mail or
    phone now (by blind index), every lead a previous owner with them held, and the leads an
    erasure of them emptied: the erasure suppression of their e-mail or phone and the erasure
    event naming the leads were written by one transaction, so they share its timestamp."""
    email, phone = indexes.get("email"), indexes.get("phone")
    rows = conn.execute(
        "SELECT id FROM leads WHERE id = %(lead)s"
        " UNION SELECT id FROM leads WHERE %(e)s::text IS NOT NULL AND email IS NOT NULL AND pii_index(email) = %(e)s"
        " UNION SELECT id FROM leads WHERE %(p)s::text IS NOT NULL AND phone IS NOT NULL AND pii_index(phone) = %(p)s"
        " UNION SELECT lead_id FROM lead_owner_history WHERE lead_id IS NOT NULL AND"
        "   ((%(e)s::text IS NOT NULL AND pii_index(email) = %(e)s) OR (%(p)s::text IS NOT NULL AND pii_index(phone) = %(p)s))"
        " UNION SELECT x::uuid FROM suppressions s"
        "   JOIN pipeline_events ev ON ev.event_type = 'erasure' AND ev.created_at = s.created_at"
        "   CROSS JOIN LATERAL jsonb_array_elements_text(ev.details -> 'lead_ids') AS x"
        "   WHERE s.reason = 'erasure' AND ((s.channel = 'email' AND s.value = %(e)s)"
        "                                OR (s.channel = 'phone' AND s.value = %(p)s))",
        {"lead": lead_id, "e": email, "p": phone}).fetchall()
    return sorted(r[0] for r in rows if r[0] is not None)


def leads(conn: psycopg.Connection, ids: list) -> list[dict]:
    cols = ", ".join(f"l.{c}" for c in LEAD_FIELDS)
    return _rows(conn, f"SELECT {cols}, b.company_name AS broker_name, b.nmls_number AS broker_nmls"
                       " FROM leads l LEFT JOIN brokers b ON b.id = l.assigned_broker_id"
                       " WHERE l.id = ANY(%s) ORDER BY l.created_at, l.id", (ids,))


def sources(conn: psycopg.Connection, ids: list) -> list[dict]:
    """Every upload row that became or merged into the leads, with the upload's vendor source,
    file name and receipt."""
    return _rows(conn, "SELECT s.lead_id, s.upload_id, s.row_number, s.received_at, r.details ->> 'source' AS vendor,"
                       " r.details ->> 'filename' AS filename, r.details ->> 'door' AS door"
                       " FROM lead_sources s LEFT JOIN pipeline_events r"
                       "   ON r.upload_id = s.upload_id AND r.event_type = 'upload_received'"
                       " WHERE s.lead_id = ANY(%s) ORDER BY s.received_at, s.upload_id, s.row_number", (ids,))


def owner_history(conn: psycopg.Connection, ids: list) -> list[dict]:
    return _rows(conn, "SELECT lead_id, first_name, last_name, email, phone, owner_since, owner_until, upload_id,"
                       " row_number FROM lead_owner_history WHERE lead_id = ANY(%s) ORDER BY owner_until, id", (ids,))


def consent_evidence(conn: psycopg.Connection, ids: list) -> list[dict]:
    return _rows(conn, "SELECT lead_id, method, consented_at, page_version, page_sha256, agreed_text, ip_hash,"
                       " user_agent, batch_id, feed_date, token_hash FROM lead_consent_audit"
                       " WHERE lead_id = ANY(%s) ORDER BY consented_at, id", (ids,))


def feeds(conn: psycopg.Connection, ids: list) -> list[dict]:
    """Every feed of the leads: date, batch, broker, score, and its push to the campaign tool."""
    return _rows(conn, "SELECT f.lead_id, f.feed_date, f.batch_id, f.broker_id, f.lead_score, b.run_id,"
                       " b.export_path, b.exported_at, p.status AS push_status, p.pushed_at, f.owner_since"
                       " FROM campaign_batch_leads f JOIN campaign_batches b ON b.id = f.batch_id"
                       " LEFT JOIN campaign_pushes p ON p.lead_id = f.lead_id AND p.batch_id = f.batch_id"
                       " WHERE f.lead_id = ANY(%s) ORDER BY f.feed_date, f.batch_id", (ids,))


def events(conn: psycopg.Connection, ids: list, indexes: list[str]) -> list[dict]:
    """Inbound events of the leads, or naming the person's e-mail or phone."""
    return _rows(conn, "SELECT id, lead_id, source, webhook_id, type, occurred_at, received_at, leads_matched, data"
                       " FROM lead_events WHERE lead_id = ANY(%(ids)s)"
                       "   OR (email IS NOT NULL AND pii_index(email) = ANY(%(ix)s))"
                       "   OR (phone IS NOT NULL AND pii_index(phone) = ANY(%(ix)s))"
                       " ORDER BY occurred_at, id", {"ids": ids, "ix": indexes})


def suppressions(conn: psycopg.Connection, entries: list[tuple[str, str]]) -> list[dict]:
    """Suppressions of the person's e-mails, phones and owner entries, and of their properties."""
    if not entries:
        return []
    channels, values = zip(*entries)
    return _rows(conn, "SELECT s.channel, s.value, s.reason, s.source, s.created_at FROM suppressions s"
                       " JOIN unnest(%s::text[], %s::text[]) AS w (channel, value)"
                       "   ON w.channel = s.channel AND w.value = s.value"
                       " ORDER BY s.created_at, s.channel, s.reason", (list(channels), list(values)))


def pipeline_events(conn: psycopg.Connection, ids: list) -> list[dict]:
    """Everything the pipeline recorded about the leads: merges, owner changes, key conflicts,
    consent, erasure, and every opening of their values (pii_decrypted)."""
    return _rows(conn, "SELECT id, event_type, stage, upload_id, lead_id, run_id, created_at, details"
                       " FROM pipeline_events WHERE lead_id = ANY(%(ids)s)"
                       "   OR (details ? 'lead_id' AND details ->> 'lead_id' = ANY(%(texts)s))"
                       "   OR (details ? 'lead_ids' AND (details -> 'lead_ids') ?| %(texts)s)"
                       " ORDER BY created_at, id", {"ids": ids, "texts": [str(i) for i in ids]})


def erasure_suppressions(conn: psycopg.Connection, ids: list) -> list[dict]:
    """The erasure suppressions written with an erasure of these leads (one transaction, one
    timestamp): the erased e-mails, phones and owner entries, as blind indexes."""
    return _rows(conn, "SELECT s.channel, s.value, s.reason, s.source, s.created_at FROM suppressions s"
                       " WHERE s.reason = 'erasure' AND s.created_at IN ("
                       "   SELECT ev.created_at FROM pipeline_events ev WHERE ev.event_type = 'erasure'"
                       "     AND (ev.details -> 'lead_ids') ?| %s)"
                       " ORDER BY s.created_at, s.channel", ([str(i) for i in ids],))


def in_contactable_view(conn: psycopg.Connection, ids: list) -> set | None:
    """Which of the leads the contactable view holds now (None before the first refresh built it)."""
    if conn.execute("SELECT to_regclass('analytics.mv_contactable_leads')").fetchone()[0] is None:
        return None
    return {r[0] for r in conn.execute("SELECT lead_id FROM analytics.mv_contactable_leads WHERE lead_id = ANY(%s)",
                                       (ids,))}
