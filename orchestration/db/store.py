"""The pipeline's database access, in one place: events, DLQ, replay guard, COPY in and out,
and the calls into the SQL functions the migrations define (the merge itself lives in SQL).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg.types.json import Jsonb

from orchestration import constants


@contextmanager
def connect(url: str, *, role: str | None = None, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A connection acting as ``role`` (RLS applies) with the scheduled-job time zone."""
    with psycopg.connect(url, autocommit=autocommit) as conn:
        if role:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("SET TIME ZONE {}").format(sql.Literal(constants.TIMEZONE)))
        # Bulk stages stage through temp tables: let them live in memory (allocated only when used).
        conn.execute("SET temp_buffers = '256MB'")
        if not autocommit:
            conn.commit()  # session settings survive; callers start clean transactions
        yield conn


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


def set_lock_timeout(conn: psycopg.Connection, seconds: float) -> None:
    """This transaction waits at most ``seconds`` for any lock (advisory job locks included), then
    fails with LockNotAvailable (55P03)."""
    conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(seconds * 1000)}ms",))


def expired_work_uploads(conn: psycopg.Connection, keep_hours: float, landed_days: float) -> list[str]:
    """Uploads whose work rows (leads_staging, leads_validated) may go: merged successfully after
    their last staging and validation, at least ``keep_hours`` ago; or received more than
    ``landed_days`` ago whatever became of them (a refused file's staged rows too)."""
    return [r[0] for r in conn.execute(
        "WITH work AS ("
        "  SELECT upload_id, max(created_at) FILTER (WHERE event_type = 'merged') AS merged_at,"
        "         max(created_at) FILTER (WHERE event_type IN ('staged', 'validated')) AS worked_at,"
        "         min(created_at) AS first_at"
        "  FROM pipeline_events WHERE upload_id IS NOT NULL"
        "    AND event_type IN ('upload_received', 'staged', 'validated', 'merged')"
        "  GROUP BY upload_id)"
        " SELECT upload_id FROM work w"
        " WHERE ((w.merged_at > w.worked_at AND w.merged_at <= now() - make_interval(secs => %s))"
        "        OR w.first_at <= now() - make_interval(secs => %s))"
        "   AND (EXISTS (SELECT 1 FROM leads_staging s WHERE s.upload_id = w.upload_id)"
        "        OR EXISTS (SELECT 1 FROM leads_validated v WHERE v.upload_id = w.upload_id))"
        " ORDER BY 1", (keep_hours * 3600, landed_days * 86400)).fetchall()]


def delete_work_rows(conn: psycopg.Connection, upload_ids: list[str]) -> int:
    """Delete the uploads' staged and validated rows; returns how many rows went."""
    if not upload_ids:
        return 0
    staged = conn.execute("DELETE FROM leads_staging WHERE upload_id = ANY(%s)", (upload_ids,)).rowcount
    validated = conn.execute("DELETE FROM leads_validated WHERE upload_id = ANY(%s)", (upload_ids,)).rowcount
    return staged + validated


def release_work_rows(conn: psycopg.Connection, upload_id: str) -> tuple[int, bool]:
    """The upload merged: its staged and validated rows go now, in the merge's transaction.
    Returns (rows removed, whether the work tables were truncated).

    The staged rows are the file's text, e-mails and phones in plain text, so removing them must
    not leave them in the tables' pages: when no other upload has work rows, both tables are
    TRUNCATEd (new, empty files; the old ones are unlinked), taking their lock only briefly and
    only if free; otherwise the rows are DELETEd and their space is reused. The tables are UNLOGGED:
    their rows are never in the WAL or a base backup.
    """
    others = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM leads_staging WHERE upload_id <> %(u)s)"
        "    OR EXISTS (SELECT 1 FROM leads_validated WHERE upload_id <> %(u)s)", {"u": upload_id}).fetchone()[0]
    if not others:
        counted = conn.execute(
            "SELECT (SELECT count(*) FROM leads_staging WHERE upload_id = %(u)s)"
            "     + (SELECT count(*) FROM leads_validated WHERE upload_id = %(u)s)", {"u": upload_id}).fetchone()[0]
        try:
            with conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '2s'")
                conn.execute("LOCK TABLE leads_staging, leads_validated IN ACCESS EXCLUSIVE MODE")
                if not conn.execute("SELECT EXISTS (SELECT 1 FROM leads_staging WHERE upload_id <> %(u)s)"
                                    "    OR EXISTS (SELECT 1 FROM leads_validated WHERE upload_id <> %(u)s)",
                                    {"u": upload_id}).fetchone()[0]:
                    conn.execute("TRUNCATE leads_staging, leads_validated")
                    return int(counted), True
        except psycopg.errors.LockNotAvailable:
            pass                         # another upload is at work: delete this one's rows instead
    return delete_work_rows(conn, [upload_id]), False


# DLQ payload keys that quote a record of a file: a rejected row or a malformed line's text, sealed
# ("record", orchestration.pii) with the blind indexes of its e-mails and phones ("pii_index"); "row"
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


def claim_content(conn: psycopg.Connection, sha256: str, source: str, upload_id: str,
                  headers: dict) -> bool:
    """Replay guard: True when these bytes were not accepted within the replay window."""
    row = conn.execute(
        "INSERT INTO ingest_replay_guard (content_sha256, source, upload_id, headers) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (content_sha256) DO UPDATE SET received_at = now(), source = EXCLUDED.source,"
        "   upload_id = EXCLUDED.upload_id, headers = EXCLUDED.headers"
        " WHERE ingest_replay_guard.received_at < now() - make_interval(days => %s)"
        " RETURNING content_sha256",
        (sha256, source, upload_id, Jsonb(headers), constants.REPLAY_WINDOW_DAYS),
    ).fetchone()
    return row is not None


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return buf.getvalue()


def copy_rows(conn: psycopg.Connection, table: str, frame: pd.DataFrame, chunk: int = 1 << 22) -> int:
    """COPY a frame (columns named as the table's) through pyarrow's CSV writer into a table the
    caller may COPY into: a temporary table (PostgreSQL refuses COPY FROM under row-level security)."""
    if frame.empty:
        return 0
    data = _csv_bytes(frame)
    cols = sql.SQL(", ").join(map(sql.Identifier, frame.columns))
    with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
            sql.Identifier(table), cols)) as copy:
        view = memoryview(data)
        for start in range(0, len(view), chunk):
            copy.write(view[start:start + chunk])
    return len(frame)


def _temp_like(conn: psycopg.Connection, table: str) -> str:
    temp = f"_copy_{table}"
    conn.execute(sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
        sql.Identifier(temp), sql.Identifier(table)))
    conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(temp)))
    return temp


def _insert_from(conn: psycopg.Connection, table: str, temp: str, columns: list[str]) -> int:
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    return conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
        sql.Identifier(table), cols, cols, sql.Identifier(temp))).rowcount


def copy_frame(conn: psycopg.Connection, table: str, frame: pd.DataFrame) -> int:
    """COPY a frame into an RLS-protected table: into a temporary table shaped like the target
    (temp tables have no RLS), then one INSERT ... SELECT, which the policies check."""
    if frame.empty:
        return 0
    temp = _temp_like(conn, table)
    copy_rows(conn, temp, frame)
    return _insert_from(conn, table, temp, list(frame.columns))


STAGING_COLUMNS_PREFIX = ["upload_id", "source_profile"]


def begin_staging(conn: psycopg.Connection, upload_id: str) -> str:
    """Replace an upload's staged rows: delete what an earlier run staged, open the COPY target."""
    conn.execute("DELETE FROM leads_staging WHERE upload_id = %s", (upload_id,))
    return _temp_like(conn, "leads_staging")


def stage_rows(conn: psycopg.Connection, temp: str, upload_id: str, profile: str, frame: pd.DataFrame) -> int:
    out = frame.copy(deep=False)
    out.insert(0, "source_profile", profile)
    out.insert(0, "upload_id", upload_id)
    return copy_rows(conn, temp, out)


def finish_staging(conn: psycopg.Connection, temp: str, columns: list[str]) -> int:
    return _insert_from(conn, "leads_staging", temp, [*STAGING_COLUMNS_PREFIX, *columns])


def staged_shape(conn: psycopg.Connection, upload_id: str, columns: list[str]) -> tuple[int, int, list[str]]:
    """(row count, highest row number, the columns that hold a value in at least one row)."""
    row = conn.execute(
        sql.SQL("SELECT count(*), coalesce(max(row_number), 0), {} FROM leads_staging WHERE upload_id = {}").format(
            sql.SQL(", ").join(sql.SQL("coalesce(bool_or({} IS NOT NULL), false)").format(sql.Identifier(c))
                               for c in columns),
            sql.Literal(upload_id))).fetchone()
    return row[0], row[1], [c for c, has in zip(columns, row[2:]) if has or c == "row_number"]


def iter_staged(conn: psycopg.Connection, upload_id: str, columns: list[str], slice_rows: int):
    """The upload's staged rows in row-number slices, as pyarrow-backed string frames, all read in
    one REPEATABLE READ snapshot (a concurrent re-stage cannot mix two versions): give it a
    connection of its own with no transaction open. Columns empty for the whole upload (phone 3-5
    in most files) are not transferred: they come back all-NA."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        _, top, wanted = staged_shape(conn, upload_id, columns)
        for low in range(0, top, slice_rows):
            yield _read_slice(conn, upload_id, columns, wanted, low, low + slice_rows)


def _read_slice(conn: psycopg.Connection, upload_id: str, columns: list[str], wanted: list[str],
                low: int, high: int) -> pd.DataFrame:
    stmt = sql.SQL("COPY (SELECT {} FROM leads_staging WHERE upload_id = {} AND row_number > {}"
                   " AND row_number <= {} ORDER BY row_number) TO STDOUT WITH (FORMAT csv, HEADER)").format(
        sql.SQL(", ").join(map(sql.Identifier, wanted)), sql.Literal(upload_id), sql.Literal(low),
        sql.Literal(high))
    buf = io.BytesIO()
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        for block in copy:
            buf.write(block)
    buf.seek(0)
    types = {c: pa.string() for c in wanted}
    types["row_number"] = pa.int64()
    # PostgreSQL writes NULL as an unquoted empty field and '' as "": only that is NULL here. The
    # reader's default null words (NULL, NA, N/A, NaN, nan...) would erase real text such as the
    # surname Null or NA.
    table = pacsv.read_csv(buf, parse_options=pacsv.ParseOptions(newlines_in_values=True),
                           convert_options=pacsv.ConvertOptions(
                               column_types=types, strings_can_be_null=True, null_values=[""],
                               quoted_strings_can_be_null=False))
    del buf
    string_dtype = pd.StringDtype("pyarrow")
    frame = table.to_pandas(types_mapper={pa.string(): string_dtype, pa.large_string(): string_dtype}.get)
    del table
    for c in columns:
        if c not in frame.columns:
            frame[c] = pd.array(pa.nulls(len(frame), pa.string()), dtype=string_dtype)
    return frame[columns]


def code_map(conn: psycopg.Connection, provider: str) -> dict[tuple[str, str], bool]:
    rows = conn.execute("SELECT channel, lower(code), is_verified FROM verification_code_map"
                        " WHERE provider = %s", (provider,)).fetchall()
    return {(ch, code): ok for ch, code, ok in rows}


def begin_validated_work(conn: psycopg.Connection, upload_id: str) -> None:
    """Drop the upload's earlier validated rows; create this transaction's work tables."""
    conn.execute("SELECT begin_validated_work(%s)", (upload_id,))


def load_validated_slice(conn: psycopg.Connection, upload_id: str, frame: pd.DataFrame) -> int:
    """COPY one slice of normalised rows (validate.WORK_COLUMNS) into leads_validated."""
    copy_rows(conn, "_validated_work", frame)
    return conn.execute("SELECT load_validated_slice(%s)", (upload_id,)).fetchone()[0]


def publish_validated(conn: psycopg.Connection, upload_id: str) -> dict[str, int]:
    """Collapse the in-file groups COPYed into _validated_groups; counts of the upload's rows."""
    row = conn.execute("SELECT * FROM publish_validated(%s)", (upload_id,)).fetchone()
    return {n: int(v) for n, v in zip(("rows_written", "grouped_rows", "phone_verified", "email_verified"), row)}


def merge_upload(conn: psycopg.Connection, upload_id: str, source: str, seen_at: datetime) -> dict[str, int]:
    row = conn.execute("SELECT * FROM merge_validated_leads(%s, %s, %s)",
                       (upload_id, source, seen_at)).fetchone()
    names = ("inserted", "updated", "unchanged", "conflicts", "not_inserted")
    return {n: int(v) for n, v in zip(names, row)}


def discard_validated(conn: psycopg.Connection, upload_id: str) -> None:
    conn.execute("DELETE FROM leads_validated WHERE upload_id = %s", (upload_id,))


def validation_refusal(conn: psycopg.Connection, upload_id: str) -> str | None:
    """The message of the upload's latest validation, when that validation refused the file."""
    row = conn.execute("SELECT event_type, details->>'message' FROM pipeline_events WHERE upload_id = %s"
                       " AND stage = 'leads_validated' AND event_type IN ('validated', 'upload_failed')"
                       " ORDER BY id DESC LIMIT 1", (upload_id,)).fetchone()
    return row[1] if row and row[0] == "upload_failed" else None


def validated_count(conn: psycopg.Connection, upload_id: str) -> int:
    return conn.execute("SELECT count(*) FROM leads_validated WHERE upload_id = %s", (upload_id,)).fetchone()[0]


def upload_for_content(conn: psycopg.Connection, sha256: str) -> str | None:
    """The upload id under which these exact bytes were accepted (replay guard), if any."""
    row = conn.execute("SELECT upload_id FROM ingest_replay_guard WHERE content_sha256 = %s", (sha256,)).fetchone()
    return row[0] if row else None


def upload_summary(conn: psycopg.Connection, upload_id: str) -> dict[str, dict]:
    """The latest details of each event type recorded for an upload."""
    return {r[0]: r[1] for r in conn.execute(
        "SELECT DISTINCT ON (event_type) event_type, details FROM pipeline_events WHERE upload_id = %s"
        " ORDER BY event_type, id DESC", (upload_id,)).fetchall()}


def function_definition(conn: psycopg.Connection, schema: str, name: str) -> str | None:
    """A function's live definition as PostgreSQL prints it (pg_get_functiondef), or None."""
    row = conn.execute(
        "SELECT pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = %s AND p.proname = %s", (schema, name)).fetchone()
    return row[0] if row else None


def relation_row_count(conn: psycopg.Connection, schema: str, name: str) -> int:
    """Rows in a table, view or materialized view (what the UI plots per materialisation)."""
    return conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
                        ).fetchone()[0]


def lead_totals(conn: psycopg.Connection) -> dict[str, int]:
    total, verified = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE phone_verified OR email_verified) FROM leads").fetchone()
    contactable, unfed = contactable_counts(conn)
    return {"leads": total, "verified": verified, "contactable": contactable, "contactable_unfed": unfed}


# --- feeder ------------------------------------------------------------------------------------

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
        " b.company_name AS broker_name, l.lead_score, b.id AS broker_id"
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


def fed_count(conn: psycopg.Connection, feed_date) -> int:
    return conn.execute("SELECT count(*) FROM campaign_batch_leads WHERE feed_date = %s", (feed_date,)).fetchone()[0]


def contactable_counts(conn: psycopg.Connection) -> tuple[int, int]:
    """(rows in mv_contactable_leads, of which not yet fed to their current owner)."""
    return conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS "
        "(SELECT 1 FROM campaign_batch_leads f JOIN leads l ON l.id = f.lead_id WHERE f.lead_id = c.lead_id"
        " AND f.owner_since IS NOT DISTINCT FROM l.owner_since)) "
        "FROM analytics.mv_contactable_leads c").fetchone()


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


def cleanup_replay_guards(conn: psycopg.Connection, days: int) -> int:
    """Delete replay guards older than ``days``; how many went."""
    return int(conn.execute("SELECT cleanup_replay_guards(make_interval(days => %s))", (days,)).fetchone()[0])


def cleanup_consent_tokens(conn: psycopg.Connection) -> int:
    """Delete expired or used consent tokens; how many went."""
    return int(conn.execute("SELECT cleanup_consent_tokens()").fetchone()[0])


def last_refresh(conn: psycopg.Connection, view: str) -> tuple[str, datetime] | None:
    """(view_refreshed | refresh_skipped, when) of the view's latest refresh attempt, if any."""
    return conn.execute("SELECT event_type, created_at FROM pipeline_events WHERE stage = %s AND event_type IN"
                        " ('view_refreshed', 'refresh_skipped') ORDER BY id DESC LIMIT 1", (view,)).fetchone()


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


def apply_lead_event(conn: psycopg.Connection, sender: str, webhook_id: str, event) -> tuple[bool, int | None, int]:
    """Store and apply one inbound event (apply_lead_event.sql): (applied?, event id, leads matched).
    A repeated (sender, webhook id) is not applied again."""
    return conn.execute(
        "SELECT applied, event_id, leads_matched FROM apply_lead_event(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (sender, webhook_id, event.type, event.occurred_at, event.email, event.phone, event.lead_id,
         event.soft_bounce, Jsonb(event.data))).fetchone()


def suppress_from_upload(conn: psycopg.Connection, upload_id: str) -> int:
    """Before the merge: vendor DNC and Litigator flags of the upload become suppressions, and its
    rows' suppressed phones carry phone_verified = false (suppress_from_upload.sql)."""
    return conn.execute("SELECT suppress_from_upload(%s)", (upload_id,)).fetchone()[0]


def unverify_suppressed_phones(conn: psycopg.Connection, upload_id: str) -> int:
    """After the merge: leads holding a suppressed phone of the upload lose phone_verified."""
    return conn.execute("SELECT unverify_suppressed_phones(%s)", (upload_id,)).fetchone()[0]


def suppress_imported_phones(conn: psycopg.Connection, reason: str, source: str) -> tuple[int, int]:
    """Move the numbers COPYed into ``_dnc_import`` onto the suppression list; the leads holding
    them lose phone_verified. Returns (suppressions added, leads changed)."""
    added = conn.execute(
        "INSERT INTO suppressions (channel, value, reason, source)"
        " SELECT DISTINCT 'phone', value, %s, %s FROM _dnc_import ON CONFLICT DO NOTHING", (reason, source)).rowcount
    changed = conn.execute(
        "UPDATE leads l SET phone_verified = false WHERE l.phone_verified"
        " AND pii_index(l.phone) IN (SELECT value FROM _dnc_import)").rowcount
    return added, changed


def add_suppression(conn: psycopg.Connection, channel: str, value: str, reason: str, source: str) -> bool:
    return conn.execute("INSERT INTO suppressions (channel, value, reason, source) VALUES (%s, %s, %s, %s)"
                        " ON CONFLICT DO NOTHING", (channel, value, reason, source)).rowcount == 1


def remove_suppression(conn: psycopg.Connection, channel: str, value: str, reason: str) -> bool:
    return conn.execute("DELETE FROM suppressions WHERE channel = %s AND value = %s AND reason = %s",
                        (channel, value, reason)).rowcount == 1


def suppression_counts(conn: psycopg.Connection) -> list[tuple[str, str, int]]:
    return conn.execute("SELECT channel, reason, count(*) FROM suppressions GROUP BY 1, 2 ORDER BY 1, 2").fetchall()


def latest_suppressions(conn: psycopg.Connection, channel: str | None, reason: str | None,
                        limit: int) -> list[tuple]:
    return conn.execute(
        "SELECT channel, value, reason, source, created_at FROM suppressions"
        " WHERE (%s::text IS NULL OR channel = %s) AND (%s::text IS NULL OR reason = %s)"
        " ORDER BY created_at DESC, value LIMIT %s", (channel, channel, reason, reason, limit)).fetchall()


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


def record_consent(conn: psycopg.Connection, nonce_hash: str, text: str, ip: str, user_agent: str) -> bool:
    """Spend the token and record the consent with its evidence; False when the token was spent
    (or expired) in the meantime."""
    row = conn.execute("UPDATE consent_tokens SET used_at = now() WHERE nonce_hash = %s AND used_at IS NULL"
                       " AND expires_at > now() RETURNING lead_id", (nonce_hash,)).fetchone()
    if row is None:
        return False
    conn.execute("UPDATE leads SET consent = true, consented_at = now(), consent_method = 'form' WHERE id = %s",
                 (row[0],))
    conn.execute("INSERT INTO lead_consent_audit (lead_id, method, token_hash, ip, user_agent, agreed_text)"
                 " VALUES (%s, 'form', %s, %s, %s, %s)", (row[0], nonce_hash, ip, user_agent, text))
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


LEAD_CARD_FIELDS = ("id", "first_name", "last_name", "email", "phone", "property_address", "property_city",
                    "property_state", "property_zip", "mak", "apn", "addr_hash", "owner_key", "owner_since",
                    "campaign_status", "lead_score", "assigned_broker_id", "email_verified", "phone_verified",
                    "created_at", "last_seen_at")


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


def second_chance(conn: psycopg.Connection, upload_id: str) -> dict[str, int]:
    """Find the upload's second-chance links (orchestration.ingest.second_chance) and leave them in
    the transaction's ``_second_chance`` table, which merge_validated_leads() reads. Only rows that
    no key matches, and only the leads of their block, are compared."""
    from orchestration.ingest import second_chance as sc

    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _second_chance (row_number integer PRIMARY KEY, "
                 "lead_id uuid NOT NULL, rule text NOT NULL) ON COMMIT DROP")
    conn.execute("TRUNCATE _second_chance")
    conn.execute("DROP TABLE IF EXISTS pg_temp._unmatched")
    # The merge's own plan shape (hash joins with room to hash leads in memory): with the default
    # work_mem and nested loops allowed, the 1M-row warm case spent minutes here; a merge join
    # sorted both sides by text keys (10.7 s against 2.5 s hashed).
    conn.execute("SET LOCAL work_mem = '256MB'")
    conn.execute("SET LOCAL enable_nestloop = off")
    conn.execute("SET LOCAL enable_mergejoin = off")
    conn.execute("""
        CREATE TEMP TABLE _unmatched ON COMMIT DROP AS
        SELECT v.row_number, v.property_address, v.property_city, v.property_state, v.property_zip,
               v.owner_key, split_part(v.property_address, ' ', 1) AS house
        FROM leads_validated v
        LEFT JOIN leads l1 ON v.mak IS NOT NULL AND l1.mak = v.mak
        LEFT JOIN leads l2 ON v.apn IS NOT NULL AND l2.apn = v.apn AND l2.property_state = v.property_state
                          AND coalesce(l2.property_county, '') = coalesce(v.property_county, '')
        LEFT JOIN leads l3 ON v.addr_hash IS NOT NULL AND l3.addr_hash = v.addr_hash
        WHERE v.upload_id = %(u)s AND v.property_address IS NOT NULL
          AND l1.id IS NULL AND l2.id IS NULL AND l3.id IS NULL
    """, {"u": upload_id})
    conn.execute("ANALYZE _unmatched")
    candidates = conn.execute("""
        SELECT u.row_number, u.property_address, l.id::text, l.property_address, 'zip', u.owner_key, l.owner_key
        FROM _unmatched u
        JOIN leads l ON l.property_zip = u.property_zip AND split_part(l.property_address, ' ', 1) = u.house
        WHERE u.property_zip IS NOT NULL AND l.property_address <> u.property_address
          -- a typo changes a line's length by at most two and keeps the letter after the house
          -- number and the last word (suffix or unit): cheap filters before any pair reaches Python
          AND abs(length(l.property_address) - length(u.property_address)) <= 2
          AND left(l.property_address, length(u.house) + 2) = left(u.property_address, length(u.house) + 2)
          AND split_part(reverse(l.property_address), ' ', 1) = split_part(reverse(u.property_address), ' ', 1)
        UNION ALL
        SELECT u.row_number, u.property_address, l.id::text, l.property_address, 'city', u.owner_key, l.owner_key
        FROM _unmatched u
        JOIN leads l ON l.property_city = u.property_city AND l.property_state = u.property_state
                    AND l.property_address = u.property_address
        WHERE u.property_zip IS NULL
    """).fetchall()
    conn.execute("RESET enable_nestloop")
    conn.execute("RESET enable_mergejoin")
    conn.execute("RESET work_mem")
    found = sc.links(candidates)
    if found:
        with conn.cursor().copy("COPY _second_chance (row_number, lead_id, rule) FROM STDIN") as copy:
            for row_number, (lead_id, rule) in found.items():
                copy.write_row((row_number, lead_id, rule))
    return {"second_chance_candidates": len(candidates), "second_chance_links": len(found)}
