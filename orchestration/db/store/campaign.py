"""The campaign: the feed, its batches and exports, consent tokens and their audit, pushes, the
contactable view's counts and refresh time."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg import sql

from orchestration.db.store.audit import record_event


def feed_campaign(conn: psycopg.Connection, feed_date, cap: int, run_id: str | None,
                  email_gap_days: int = 90) -> list[tuple]:
    """(lead_id, broker_id, lead_score, batch_id) fed now by feed_campaign() (orchestration/db/sql/feed_campaign.sql)."""
    return conn.execute("SELECT lead_id, broker_id, lead_score, batch_id FROM feed_campaign(%s, %s, %s, %s)",
                        (feed_date, cap, run_id, email_gap_days)).fetchall()


def batch_export_rows(conn: psycopg.Connection, batch_id: int) -> list[dict]:
    """The batch's leads as the export shows them. A phone on any suppression list (Do-Not-Call
    included) is withheld: the campaign tool never receives a number nobody may call."""
    cur = conn.execute(
        "SELECT l.id AS lead_id, l.email, l.first_name, l.last_name,"
        " CASE WHEN s.phone_blocked THEN NULL ELSE l.phone END AS phone, coalesce(s.phone_blocked, false) AS phone_withheld,"
        " l.property_address, l.property_city, l.property_state, l.estimated_equity,"
        " b.company_name AS broker_name, l.lead_score, b.id AS broker_id, f.sending_account"
        " FROM campaign_batch_leads f JOIN leads l ON l.id = f.lead_id"
        " LEFT JOIN brokers b ON b.id = f.broker_id"
        " LEFT JOIN LATERAL (SELECT true AS phone_blocked FROM suppressions x"
        "   WHERE x.channel = 'phone' AND x.value = pii_index(l.phone) LIMIT 1) s ON true"
        " WHERE f.batch_id = %s ORDER BY l.lead_score DESC, l.id", (batch_id,))
    names = [d.name for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def batch_brokers(conn: psycopg.Connection, batch_id: int) -> list[str]:
    """The broker name of each lead of the batch."""
    return [r[0] for r in conn.execute(
        "SELECT b.company_name FROM campaign_batch_leads f LEFT JOIN brokers b ON b.id = f.broker_id"
        " WHERE f.batch_id = %s", (batch_id,)).fetchall()]


def unexported_batches(conn: psycopg.Connection, feed_date) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM campaign_batches WHERE feed_date = %s AND exported_at IS NULL"
                                       " ORDER BY id", (feed_date,)).fetchall()]


def mark_exported(conn: psycopg.Connection, batch_id: int, path) -> None:
    conn.execute("UPDATE campaign_batches SET exported_at = now(), export_path = %s WHERE id = %s",
                 (str(path), batch_id))


def date_exports(conn: psycopg.Connection, feed_date) -> list[str]:
    """The export files of the date's batches, oldest first."""
    return [r[0] for r in conn.execute("SELECT export_path FROM campaign_batches WHERE feed_date = %s "
                                       "AND export_path IS NOT NULL ORDER BY id", (feed_date,)).fetchall()]


def fed_count(conn: psycopg.Connection, feed_date) -> int:
    return conn.execute("SELECT count(*) FROM campaign_batch_leads WHERE feed_date = %s", (feed_date,)).fetchone()[0]


def contactable_counts(conn: psycopg.Connection) -> tuple[int, int]:
    """(rows in mv_contactable_leads, of which not yet fed to their current owner)."""
    return conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS "
        "(SELECT 1 FROM campaign_batch_leads f JOIN leads l ON l.id = f.lead_id WHERE f.lead_id = c.lead_id"
        " AND f.owner_since IS NOT DISTINCT FROM l.owner_since)) "
        "FROM analytics.mv_contactable_leads c").fetchone()


def cleanup_consent_tokens(conn: psycopg.Connection) -> int:
    """Delete expired or used consent tokens; how many went."""
    return int(conn.execute("SELECT cleanup_consent_tokens()").fetchone()[0])


def latest_feed_run(conn: psycopg.Connection, feed_date) -> tuple | None:
    """(when, fed for the date) of the latest feed run recorded for ``feed_date``, if any."""
    return conn.execute("SELECT created_at, coalesce((details ->> 'fed_for_date')::int, row_count, 0)"
                        " FROM pipeline_events WHERE event_type = 'fed' AND stage = 'campaign_feed'"
                        " AND details ->> 'feed_date' = %s ORDER BY id DESC LIMIT 1",
                        (feed_date.isoformat(),)).fetchone()


def last_refresh(conn: psycopg.Connection, view: str) -> tuple[str, datetime] | None:
    """(view_refreshed | refresh_skipped, when) of the view's latest refresh attempt, if any."""
    return conn.execute("SELECT event_type, created_at FROM pipeline_events WHERE stage = %s AND event_type IN"
                        " ('view_refreshed', 'refresh_skipped') ORDER BY id DESC LIMIT 1", (view,)).fetchone()


def consent_offer(conn: psycopg.Connection, nonce_hash: str) -> dict | None:
    """The consent token's lead, broker and whether it still works (unused and unexpired)."""
    cur = conn.execute(
        "SELECT t.used_at IS NULL AND t.expires_at > now() AS live, l.first_name, l.property_address,"
        " l.property_city, b.company_name AS broker, b.nmls_number AS nmls"
        " FROM consent_tokens t JOIN leads l ON l.id = t.lead_id"
        " LEFT JOIN brokers b ON b.id = l.assigned_broker_id WHERE t.nonce_hash = %s", (nonce_hash,))
    row = cur.fetchone()
    return dict(zip([d.name for d in cur.description], row)) if row else None


def consent_audited(conn: psycopg.Connection, nonce_hash: str) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM lead_consent_audit WHERE token_hash = %s)",
                        (nonce_hash,)).fetchone()[0]


def record_consent(conn: psycopg.Connection, nonce_hash: str, proof) -> bool:
    """Spend the token and record the consent with its evidence (``consent.Evidence``); False when
    the token was spent (or expired) in the meantime."""
    row = conn.execute("UPDATE consent_tokens SET used_at = now() WHERE nonce_hash = %s AND used_at IS NULL"
                       " AND expires_at > now() RETURNING lead_id, batch_id", (nonce_hash,)).fetchone()
    if row is None:
        return False
    conn.execute("UPDATE leads SET consent = true, consented_at = now(), consent_method = 'form' WHERE id = %s",
                 (row[0],))
    conn.execute("INSERT INTO lead_consent_audit (lead_id, method, token_hash, ip_hash, user_agent, agreed_text,"
                 " page_version, page_sha256, batch_id, feed_date)"
                 " SELECT %s, 'form', %s, %s, %s, %s, %s, %s, %s, (SELECT feed_date FROM campaign_batches WHERE id = %s)",
                 (row[0], nonce_hash, proof.ip_hash, proof.user_agent, proof.agreed_text, proof.page_version,
                  proof.page_sha256, row[1], row[1]))
    record_event(conn, "consent_recorded", stage="consent", lead_id=row[0], details={"method": "form"})
    return True


def batch_consent_tokens(conn: psycopg.Connection, batch_id: int) -> dict:
    """{lead id: token id} of the batch's live consent tokens."""
    return dict(conn.execute("SELECT lead_id, id FROM consent_tokens WHERE batch_id = %s AND used_at IS NULL"
                             " AND expires_at > now()", (batch_id,)).fetchall())


def add_consent_tokens(conn: psycopg.Connection, batch_id: int, rows: list[tuple], ttl_days: int) -> None:
    """rows: (token id, lead id, nonce hash)."""
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO consent_tokens (id, lead_id, nonce_hash, batch_id, expires_at)"
                        " VALUES (%s, %s, %s, %s, now() + make_interval(days => %s))",
                        [(t, lead, h, batch_id, ttl_days) for t, lead, h in rows])


def unpushed_batches(conn: psycopg.Connection, feed_date) -> list[int]:
    """Batches of the date with a lead not yet pushed to the campaign tool."""
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT f.batch_id FROM campaign_batch_leads f WHERE f.feed_date = %s AND NOT EXISTS"
        " (SELECT 1 FROM campaign_pushes p WHERE p.lead_id = f.lead_id AND p.batch_id = f.batch_id"
        " AND p.status = 'pushed') ORDER BY 1",
        (feed_date,)).fetchall()]


def pushed_leads(conn: psycopg.Connection, batch_id: int) -> set:
    return {r[0] for r in conn.execute("SELECT lead_id FROM campaign_pushes WHERE batch_id = %s AND status = 'pushed'",
                                       (batch_id,)).fetchall()}


def record_push(conn: psycopg.Connection, batch_id: int, outcome) -> None:
    """One lead's push outcome (attempts add up across runs; a later success replaces a failure)."""
    conn.execute(
        "INSERT INTO campaign_pushes (lead_id, batch_id, status, attempts, http_status, error)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (lead_id, batch_id) DO UPDATE SET status = EXCLUDED.status,"
        " attempts = campaign_pushes.attempts + EXCLUDED.attempts, http_status = EXCLUDED.http_status,"
        " error = EXCLUDED.error, pushed_at = now()",
        (outcome.lead_id, batch_id, "pushed" if outcome.ok else "failed", outcome.attempts, outcome.status,
         outcome.error))


def funnel_by_day(conn: psycopg.Connection, stages: tuple[str, ...], days: int) -> list[dict]:
    """analytics.funnel_daily summed over sources and brokers, one row per day of the last
    ``days`` days, newest first: {"day", <stage>: count, ...}."""
    sums = sql.SQL(", ").join(sql.SQL("sum({s})::bigint AS {s}").format(s=sql.Identifier(s)) for s in stages)
    cur = conn.execute(sql.SQL("SELECT day, {sums} FROM analytics.funnel_daily WHERE day > current_date - %s"
                               " GROUP BY day ORDER BY day DESC").format(sums=sums), (days,))
    names = [d.name for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]
