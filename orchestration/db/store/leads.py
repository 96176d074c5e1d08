"""Leads and brokers: totals, the operators' broker table, a lead's card and lineage, inbound
events applied to leads."""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from orchestration.db.store.campaign import contactable_counts


def lead_totals(conn: psycopg.Connection) -> dict[str, int]:
    total, verified = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE phone_verified OR email_verified) FROM leads").fetchone()
    contactable, unfed = contactable_counts(conn)
    return {"leads": total, "verified": verified, "contactable": contactable, "contactable_unfed": unfed}


def upsert_brokers(conn: psycopg.Connection, rows: list[dict]) -> int:
    """Insert or update brokers by NMLS number (operator-maintained list; ';'-separated arrays)."""
    params = [(r["company_name"], r.get("contact_name"), r.get("email"), r["nmls_number"],
               [x.strip().upper() for x in r.get("license_states", "").split(";") if x.strip()],
               [z.strip() for z in r.get("territory_zip_codes", "").split(";") if z.strip()],
               int(r.get("max_leads_per_week") or 100)) for r in rows]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO brokers (company_name, contact_name, email, nmls_number, license_states,"
            " territory_zip_codes, max_leads_per_week) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (nmls_number) DO UPDATE SET company_name = EXCLUDED.company_name,"
            "  contact_name = EXCLUDED.contact_name, email = EXCLUDED.email,"
            "  license_states = EXCLUDED.license_states, territory_zip_codes = EXCLUDED.territory_zip_codes,"
            "  max_leads_per_week = EXCLUDED.max_leads_per_week", params)
    # tiny table: keep its statistics current for the contactable view (the pipeline role does not
    # own it, so a plain ANALYZE would be skipped: analyze_pipeline_table() runs it)
    conn.execute("SELECT analyze_pipeline_table('brokers')")
    return len(params)


def apply_lead_event(conn: psycopg.Connection, sender: str, webhook_id: str, event) -> tuple[bool, int | None, int]:
    """Store and apply one inbound event (apply_lead_event.sql): (applied?, event id, leads matched).
    A repeated (sender, webhook id) is not applied again."""
    return conn.execute(
        "SELECT applied, event_id, leads_matched FROM apply_lead_event(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (sender, webhook_id, event.type, event.occurred_at, event.email, event.phone, event.lead_id,
         event.soft_bounce, Jsonb(event.data))).fetchone()


LEAD_CARD_FIELDS = ("id", "first_name", "last_name", "email", "phone", "property_address", "property_city",
                    "property_state", "property_zip", "mak", "apn", "addr_hash", "owner_key", "owner_since",
                    "campaign_status", "lead_score", "assigned_broker_id", "email_verified", "phone_verified",
                    "ineligible_reasons", "created_at", "last_seen_at")


def lead_card(conn: psycopg.Connection, lead_id: str) -> tuple[dict, list[tuple], list[tuple]] | None:
    """A lead's fields, its sources (upload, row, received) and its previous owners; None when no
    such lead. Raises ValueError when ``lead_id`` is not a UUID."""
    import uuid

    key = uuid.UUID(str(lead_id))
    row = conn.execute(sql.SQL("SELECT {} FROM leads WHERE id = %s").format(
        sql.SQL(", ").join(map(sql.Identifier, LEAD_CARD_FIELDS))), (key,)).fetchone()
    if row is None:
        return None
    sources = conn.execute("SELECT upload_id, row_number, received_at FROM lead_sources WHERE lead_id = %s "
                           "ORDER BY received_at, upload_id, row_number", (key,)).fetchall()
    owners = conn.execute("SELECT first_name, last_name, email, phone, owner_until FROM lead_owner_history "
                          "WHERE lead_id = %s ORDER BY owner_until DESC, id DESC", (key,)).fetchall()
    return dict(zip(LEAD_CARD_FIELDS, row)), sources, owners


def lead_for_row(conn: psycopg.Connection, upload_id: str, row_number: int):
    """The lead that row ``row_number`` of upload ``upload_id`` became or merged into (None if none)."""
    found = conn.execute("SELECT lead_id FROM lead_sources WHERE upload_id = %s AND row_number = %s",
                         (upload_id, row_number)).fetchone()
    return found[0] if found else None


def write_lead_scores(conn: psycopg.Connection) -> tuple[int, int]:
    """Copy the refresh's scores (analytics.int_lead_scores) into leads.lead_score, writing only the
    ones that changed: (scores changed, leads scored)."""
    changed = conn.execute(
        "UPDATE leads l SET lead_score = s.lead_score FROM analytics.int_lead_scores s"
        " WHERE l.id = s.lead_id AND l.lead_score IS DISTINCT FROM s.lead_score").rowcount
    scored = conn.execute("SELECT count(*) FROM analytics.int_lead_scores").fetchone()[0]
    return changed, scored


def write_eligibility(conn: psycopg.Connection) -> int:
    """Copy the refresh's eligibility (analytics.int_lead_eligibility) into leads.ineligible_reasons
    ('{}': eligible), writing only what changed; returns the leads changed."""
    return conn.execute(
        "UPDATE leads l SET ineligible_reasons = e.reasons FROM analytics.int_lead_eligibility e"
        " WHERE l.id = e.lead_id AND l.ineligible_reasons IS DISTINCT FROM e.reasons").rowcount


def held_back(conn: psycopg.Connection) -> tuple[int, dict[str, int]]:
    """Leads held back as not eligible: (leads, {reason: leads}); a lead with two reasons counts
    under each."""
    total = conn.execute("SELECT count(*) FROM leads WHERE cardinality(ineligible_reasons) > 0").fetchone()[0]
    rows = conn.execute("SELECT r, count(*) FROM leads, unnest(ineligible_reasons) AS r GROUP BY r"
                        " ORDER BY count(*) DESC, r").fetchall()
    return int(total), {r: int(n) for r, n in rows}


def risky_email_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Leads waiting to be fed (new or queued, verified e-mail) whose chosen e-mail carries a risk
    label (orchestration.identity.email_risk), by label: what the contactable view leaves out."""
    rows = conn.execute(
        "SELECT e ->> 'risk', count(*) FROM leads l"
        " CROSS JOIN LATERAL jsonb_array_elements(coalesce(l.melissa_payload -> 'emails', '[]')) AS e"
        " WHERE l.email_verified AND l.campaign_status IN ('new', 'queued') AND l.email IS NOT NULL"
        "   AND e ->> 'address' = l.email AND e ? 'risk' GROUP BY 1 ORDER BY 1").fetchall()
    return {r: int(n) for r, n in rows}
