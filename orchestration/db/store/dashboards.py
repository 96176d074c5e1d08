"""The dashboards' marts (dbt, schema analytics) as rows: one query per report, newest first."""

from __future__ import annotations

import psycopg

# name -> (the query, whether it takes the number of days back)
QUERIES: dict[str, tuple[str, bool]] = {
    "uploads": ("SELECT * FROM analytics.uploads_daily WHERE received_on > current_date - %(days)s "
                "ORDER BY received_at DESC, upload_id", True),
    "brokers": ("SELECT * FROM analytics.broker_performance WHERE week > current_date - %(days)s "
                "ORDER BY week DESC, broker_name NULLS LAST, broker_id", True),
    "verification": ("SELECT * FROM analytics.verification_providers ORDER BY provider, leads DESC, status", False),
    "errors": ("SELECT * FROM analytics.errors_daily WHERE day > current_date - %(days)s "
               "ORDER BY day DESC, items DESC, kind, reason", True),
    "scores": ("SELECT * FROM analytics.score_distribution ORDER BY band_low", False),
    "vendors": ("SELECT * FROM analytics.vendor_roi ORDER BY grain DESC, leads DESC, source, upload_id", False),
}


def mart_rows(conn: psycopg.Connection, name: str, days: int) -> list[dict]:
    """The rows of one dashboard's mart (``QUERIES``), as dicts."""
    query, _ = QUERIES[name]
    cur = conn.execute(query, {"days": days})
    names = [d.name for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]
