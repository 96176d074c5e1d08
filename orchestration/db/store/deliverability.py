"""Sender health: what the last fed leads came to (the breaker's figures), pauses of the whole
sender or of one vendor list, and the block list shared with the campaign tool."""

from __future__ import annotations

from datetime import date

import psycopg
from psycopg.types.json import Jsonb

# A bounce is hard unless its sender called it soft (the same rule as events.webhooks.Event.soft_bounce).
_HARD = ("e.type = 'bounce' AND lower(coalesce(e.data ->> 'bounce_type', e.data ->> 'bounce', '')) "
         "NOT IN ('soft', 'transient', 'temporary')")

_FIGURES = f"""
WITH resumed AS (
  SELECT upload_id, max(resumed_at) AS at FROM campaign_pauses WHERE resumed_at IS NOT NULL GROUP BY upload_id
),
sent AS (
  SELECT f.lead_id, f.upload_id, b.created_at AS fed_at, l.email
  FROM campaign_batch_leads f
  JOIN campaign_batches b ON b.id = f.batch_id
  JOIN leads l ON l.id = f.lead_id
  WHERE f.feed_date > %(day)s::date - %(window)s AND f.feed_date <= %(day)s::date
),
judged AS (
  SELECT s.lead_id, s.upload_id, s.fed_at,
         EXISTS (SELECT 1 FROM lead_events e WHERE {_HARD} AND e.occurred_at >= s.fed_at
                 AND (e.lead_id = s.lead_id OR pii_index(e.email) = pii_index(s.email))) AS hard,
         EXISTS (SELECT 1 FROM lead_events e WHERE e.type = 'complaint' AND e.occurred_at >= s.fed_at
                 AND (e.lead_id = s.lead_id OR pii_index(e.email) = pii_index(s.email))) AS complained
  FROM sent s
),
counted AS (
  -- a resume starts a fresh sample for what it covers: the whole sender's resume covers every list
  SELECT j.*, j.fed_at > coalesce((SELECT r.at FROM resumed r WHERE r.upload_id IS NULL), '-infinity') AS after_all,
         j.fed_at > greatest(coalesce((SELECT r.at FROM resumed r WHERE r.upload_id IS NULL), '-infinity'),
                             coalesce((SELECT r.at FROM resumed r WHERE r.upload_id = j.upload_id), '-infinity'))
           AS after_list
  FROM judged j
)
SELECT NULL::text AS upload_id, count(*) FILTER (WHERE after_all), count(*) FILTER (WHERE after_all AND hard),
       count(*) FILTER (WHERE after_all AND complained)
FROM counted
UNION ALL
SELECT upload_id, count(*) FILTER (WHERE after_list), count(*) FILTER (WHERE after_list AND hard),
       count(*) FILTER (WHERE after_list AND complained)
FROM counted WHERE upload_id IS NOT NULL GROUP BY upload_id
"""


def sender_figures(conn: psycopg.Connection, day: date, window_days: int) -> list[tuple]:
    """(upload_id, sends, hard bounces, complaints) of the leads fed on the ``window_days`` feed
    dates up to ``day``, counted from the latest resume that covers each: first the whole sender
    (upload_id None), then each list that fed in the window."""
    return conn.execute(_FIGURES, {"day": day, "window": window_days}).fetchall()


PAUSE_COLUMNS = "id, upload_id, paused_at, paused_by, reason, figures, resumed_at, resumed_by, resume_reason"


def open_pauses(conn: psycopg.Connection) -> list[dict]:
    """Every pause in force, the whole sender's first."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(f"SELECT {PAUSE_COLUMNS} FROM campaign_pauses WHERE resumed_at IS NULL "
                           "ORDER BY upload_id NULLS FIRST, paused_at").fetchall()


def recent_pauses(conn: psycopg.Connection, limit: int = 10) -> list[dict]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(f"SELECT {PAUSE_COLUMNS} FROM campaign_pauses ORDER BY id DESC LIMIT %s",
                           (limit,)).fetchall()


def open_pause(conn: psycopg.Connection, upload_id: str | None, by: str, reason: str, figures: dict) -> int | None:
    """A new pause of that scope; None when one is already in force (it stays as it was)."""
    row = conn.execute(
        "INSERT INTO campaign_pauses (upload_id, paused_by, reason, figures) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT ((coalesce(upload_id, ''))) WHERE resumed_at IS NULL DO NOTHING RETURNING id",
        (upload_id, by, reason, Jsonb(figures))).fetchone()
    return row[0] if row else None


def resume_pause(conn: psycopg.Connection, upload_id: str | None, by: str, reason: str) -> dict | None:
    """Close the pause in force of that scope; None when there is none."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            f"UPDATE campaign_pauses SET resumed_at = now(), resumed_by = %s, resume_reason = %s "
            f"WHERE resumed_at IS NULL AND upload_id IS NOT DISTINCT FROM %s RETURNING {PAUSE_COLUMNS}",
            (by, reason, upload_id)).fetchone()


def upload_exists(conn: psycopg.Connection, upload_id: str) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM lead_sources WHERE upload_id = %s) "
                        "OR EXISTS (SELECT 1 FROM pipeline_events WHERE upload_id = %s)",
                        (upload_id, upload_id)).fetchone()[0]


def latest_feed_date(conn: psycopg.Connection) -> date | None:
    return conn.execute("SELECT max(feed_date) FROM campaign_batch_leads").fetchone()[0]


def mailbox_use(conn: psycopg.Connection, feed_date: date) -> dict[str, int]:
    """{mailbox: leads assigned to it} for the date."""
    return dict(conn.execute("SELECT sending_account, count(*) FROM campaign_batch_leads "
                             "WHERE feed_date = %s AND sending_account IS NOT NULL GROUP BY 1",
                             (feed_date,)).fetchall())


def assign_sending_accounts(conn: psycopg.Connection, batch_id: int, pairs: list[tuple]) -> None:
    """Record (lead id, mailbox) for the batch's leads."""
    with conn.cursor() as cur:
        cur.executemany("UPDATE campaign_batch_leads SET sending_account = %s WHERE batch_id = %s AND lead_id = %s",
                        [(box, batch_id, lead) for lead, box in pairs])


# --- the block list shared with the campaign tool ---------------------------------------------

BLOCKED_REASONS = ("unsubscribe", "complaint", "bounce", "erasure", "revoked", "deletion_request", "deceased")


def unpushed_blocks(conn: psycopg.Connection, limit: int) -> list[tuple[str, str | None]]:
    """(blind index, a sealed e-mail that has it, or None when no held row names it) of e-mail
    suppressions the campaign tool has not been sent yet — except those that came from it."""
    return conn.execute(
        """
        SELECT s.value,
               coalesce((SELECT l.email FROM leads l WHERE pii_index(l.email) = s.value LIMIT 1),
                        (SELECT e.email FROM lead_events e WHERE pii_index(e.email) = s.value LIMIT 1))
        FROM (SELECT DISTINCT value FROM suppressions
              WHERE channel = 'email' AND reason = ANY (%s)) s
        WHERE NOT EXISTS (SELECT 1 FROM blocklist_sync b WHERE b.value_index = s.value)
        ORDER BY s.value LIMIT %s
        """, (list(BLOCKED_REASONS), limit)).fetchall()


def record_block_sync(conn: psycopg.Connection, direction: str, rows: list[tuple[str, str | None]]) -> int:
    """Record (blind index, the campaign tool's entry id) as pushed or pulled; returns how many are new."""
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO blocklist_sync (value_index, direction, entry_id) VALUES (%s, %s, %s) "
                        "ON CONFLICT DO NOTHING", [(v, direction, e) for v, e in rows])
        return cur.rowcount if rows else 0


def suppress_blocked(conn: psycopg.Connection, indexes: list[str], source: str) -> int:
    """E-mail suppressions (reason campaign_blocklist) for blind indexes the campaign tool blocks;
    returns how many the list did not hold under any reason before."""
    if not indexes:
        return 0
    new = conn.execute("SELECT count(*) FROM unnest(%s::text[]) v WHERE NOT EXISTS "
                       "(SELECT 1 FROM suppressions s WHERE s.channel = 'email' AND s.value = v)",
                       (indexes,)).fetchone()[0]
    conn.execute("INSERT INTO suppressions (channel, value, reason, source) "
                 "SELECT 'email', v, 'campaign_blocklist', %s FROM unnest(%s::text[]) v ON CONFLICT DO NOTHING",
                 (source, indexes))
    return new


def blocked_indexes(conn: psycopg.Connection) -> set[str]:
    """Blind indexes of every e-mail suppression that belongs on the campaign tool's block list."""
    return {r[0] for r in conn.execute("SELECT DISTINCT value FROM suppressions WHERE channel = 'email' "
                                       "AND reason = ANY (%s)", (list(BLOCKED_REASONS) + ["campaign_blocklist"],))}
