"""The audit trail: pipeline_events and pipeline_dlq (record, retry, settle, scrub, count)."""

from __future__ import annotations

import json

import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from orchestration.db.store.uploads import copy_frame


def record_event(conn: psycopg.Connection, event_type: str, *, stage: str | None = None,
                 upload_id: str | None = None, run_id: str | None = None, row_count: int | None = None,
                 duration_ms: int | None = None, http_status: int | None = None,
                 details: dict | None = None, lead_id=None) -> None:
    conn.execute(
        "INSERT INTO pipeline_events (event_type, stage, upload_id, run_id, row_count, duration_ms,"
        " http_status, details, lead_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (event_type, stage, upload_id, run_id, row_count, duration_ms, http_status, Jsonb(details or {}), lead_id))


def record_dlq(conn: psycopg.Connection, source: str, reason: str, payload: dict,
               retry_in_s: float | None = None, attempts: int = 0) -> None:
    """A DLQ row; ``retry_in_s`` makes it retryable by the DLQ retry job after that many seconds."""
    conn.execute("INSERT INTO pipeline_dlq (source, reason, payload, attempts, retry_after) VALUES (%s, %s, %s, %s,"
                 " CASE WHEN %s::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => %s::float8) END)",
                 (source, reason, Jsonb(payload), attempts, retry_in_s, retry_in_s))


def supersede_upload_failures(conn: psycopg.Connection, upload_id: str) -> int:
    """Close the upload's open whole-upload failure rows (a newer failure replaces them); returns
    the attempts they had used, so a retried upload's backoff and limit carry on."""
    row = conn.execute(
        "WITH closed AS (UPDATE pipeline_dlq SET resolved_at = now(), retry_after = NULL,"
        "   payload = payload || '{\"status\": \"superseded\"}'"
        " WHERE resolved_at IS NULL AND payload->>'upload_id' = %s AND payload->>'kind' = 'upload_failed'"
        " RETURNING attempts) SELECT coalesce(max(attempts), 0) FROM closed", (upload_id,)).fetchone()
    return int(row[0])

# DLQ payload keys that quote a record of a file: a rejected row or a malformed line's text, sealed
# ("record", orchestration.privacy.pii) with the blind indexes of its e-mails and phones ("pii_index"); "row"
# and "text" are how older versions quoted them in plain text.


DLQ_RECORD_KEYS = ("record", "pii_index", "row", "text")


def scrub_dlq_payloads(conn: psycopg.Connection, days: float) -> int:
    """Drop the record a DLQ payload quotes once the item is resolved, or ``days`` after it was
    recorded; the reason, row number and line stay. Returns the payloads scrubbed."""
    return conn.execute(
        "UPDATE pipeline_dlq SET payload = (payload - %(keys)s::text[])"
        "   || jsonb_build_object('scrubbed_at', now())"
        " WHERE payload ?| %(keys)s::text[]"
        "   AND (resolved_at IS NOT NULL OR created_at <= now() - make_interval(secs => %(age)s))",
        {"keys": list(DLQ_RECORD_KEYS), "age": days * 86400}).rowcount


def resolve_upload_failures(conn: psycopg.Connection, upload_id: str) -> list[int]:
    """The upload merged: its open whole-upload failure rows are resolved. Returns their ids."""
    return [r[0] for r in conn.execute(
        "UPDATE pipeline_dlq SET resolved_at = now(), retry_after = NULL,"
        "   payload = payload || '{\"status\": \"resolved\"}'"
        " WHERE resolved_at IS NULL AND payload->>'upload_id' = %s AND payload->>'kind' = 'upload_failed'"
        " RETURNING id", (upload_id,)).fetchall()]


def due_upload_retries(conn: psycopg.Connection, limit: int) -> list[tuple[int, str, int]]:
    """(dlq id, upload id, attempts) of transient upload failures whose retry time has come, each
    marked ``relaunched`` (attempts + 1, no further retry time) in this transaction: the run it
    asks for either merges the upload (resolving the row) or records a new failure."""
    rows = conn.execute(
        "SELECT id, payload->>'upload_id', attempts FROM pipeline_dlq WHERE resolved_at IS NULL"
        " AND payload->>'kind' = 'upload_failed' AND retry_after <= now()"
        " ORDER BY retry_after LIMIT %s FOR UPDATE SKIP LOCKED", (limit,)).fetchall()
    for dlq_id, _, attempts in rows:
        settle_dlq(conn, dlq_id, resolved=False, retry_in_s=None, status="relaunched",
                   note=f"ingest run requested (attempt {attempts + 1})")
    return [(i, u, a + 1) for i, u, a in rows]


def record_dlq_many(conn: psycopg.Connection, source: str, items: list[tuple[str, dict]]) -> None:
    frame = pd.DataFrame({"source": source, "reason": [r for r, _ in items],
                          "payload": [json.dumps(p, default=str) for _, p in items]})
    copy_frame(conn, "pipeline_dlq", frame)


def clear_dlq_for_upload(conn: psycopg.Connection, source: str, upload_id: str) -> int:
    """Unresolved DLQ items a previous run of the same upload step left (a re-run replaces them)."""
    # Whole-upload failures stay: they carry the upload's retry attempts (see record_refusal).
    cur = conn.execute("DELETE FROM pipeline_dlq WHERE source = %s AND payload->>'upload_id' = %s"
                       " AND resolved_at IS NULL AND payload->>'kind' IS DISTINCT FROM 'upload_failed'",
                       (source, upload_id))
    return cur.rowcount


def due_dlq(conn: psycopg.Connection, source: str, limit: int = 100) -> list[tuple[int, dict, int]]:
    """(id, payload, attempts) of open DLQ rows of ``source`` whose retry time has come, locked for
    this transaction (a concurrent retry run skips them)."""
    return conn.execute("SELECT id, payload, attempts FROM pipeline_dlq WHERE source = %s AND resolved_at IS NULL"
                        " AND retry_after <= now() ORDER BY retry_after LIMIT %s FOR UPDATE SKIP LOCKED",
                        (source, limit)).fetchall()


def settle_dlq(conn: psycopg.Connection, dlq_id: int, *, resolved: bool, retry_in_s: float | None,
               status: str, note: str) -> None:
    """Record one retry of a DLQ row: attempts + 1; resolved, due again later, or left for a person
    (no retry time) with ``status`` and ``note`` in its payload."""
    conn.execute(
        "UPDATE pipeline_dlq SET attempts = attempts + 1,"
        " resolved_at = CASE WHEN %s THEN now() END,"
        " retry_after = CASE WHEN %s::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => %s::float8) END,"
        " payload = payload || jsonb_build_object('status', %s::text, 'last_retry', %s::text)"
        " WHERE id = %s", (resolved, retry_in_s, retry_in_s, status, note, dlq_id))


def door_counts(conn: psycopg.Connection, hours: float) -> dict[str, int]:
    """Upload receipts of the last ``hours``: accepted, refused, and refused by code."""
    rows = conn.execute(
        "SELECT CASE WHEN event_type = 'upload_received' THEN 'accepted' ELSE details->>'code' END, count(*)"
        " FROM pipeline_events WHERE stage = 'receipt' AND created_at > now() - make_interval(secs => %s)"
        " GROUP BY 1", (hours * 3600,)).fetchall()
    return {k or "unknown": int(n) for k, n in rows}


def dlq_needing_a_person(conn: psycopg.Connection) -> dict[str, int]:
    """Open DLQ items no job will retry, by source (row-level rejects and malformed records are
    reported with their upload, not here)."""
    rows = conn.execute(
        "SELECT source, count(*) FROM pipeline_dlq WHERE resolved_at IS NULL AND retry_after IS NULL"
        " AND source NOT IN ('leads_staging', 'leads_validated', 'upload_receipt') GROUP BY 1").fetchall()
    return {k: int(n) for k, n in rows}
