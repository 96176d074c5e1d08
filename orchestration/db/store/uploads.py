"""Uploads: the replay guard, COPY into the work tables (staging, validated), the merge call and
its second-chance candidates, work-row retention."""

from __future__ import annotations

import io
from datetime import datetime

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg.types.json import Jsonb

from orchestration import constants


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


def cleanup_replay_guards(conn: psycopg.Connection, days: int) -> int:
    """Delete replay guards older than ``days``; how many went."""
    return int(conn.execute("SELECT cleanup_replay_guards(make_interval(days => %s))", (days,)).fetchone()[0])


def second_chance_candidates(conn: psycopg.Connection, upload_id: str) -> list[tuple]:
    """The pairs (row, lead) a second-chance link may join: rows of the upload that no key
    matches, each with the leads of its block (same ZIP and house number, or same street line,
    city and state where the row or the lead has no ZIP). Prepares the transaction's
    ``_second_chance`` table, which merge_validated_leads() reads and
    :func:`write_second_chance_links` fills."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _second_chance (row_number integer PRIMARY KEY, "
                 "lead_id uuid NOT NULL, rule text NOT NULL) ON COMMIT DROP")
    conn.execute("TRUNCATE _second_chance")
    conn.execute("DROP TABLE IF EXISTS pg_temp._unmatched")
    # Which rows no key finds: per row, three lookups in leads' unique key indexes. Against a
    # leads table many times the upload's size (the common case: a list of 100k into millions)
    # the index lookups are the plan, so the pass costs the upload's rows, not the warehouse's;
    # for an upload the size of leads or larger (a first million-row list), hash joins with room
    # to hash leads in memory (nested loops there once spent minutes).
    conn.execute("SET LOCAL work_mem = '256MB'")
    rows = validated_count(conn, upload_id)
    leads_rows = conn.execute("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'leads'::regclass"
                              ).fetchone()[0]
    if rows * 10 >= leads_rows:
        conn.execute("SET LOCAL enable_nestloop = off")
        conn.execute("SET LOCAL enable_mergejoin = off")
    conn.execute("""
        CREATE TEMP TABLE _unmatched ON COMMIT DROP AS
        SELECT v.row_number, v.property_address, v.property_city, v.property_state, v.property_zip,
               v.owner_key, split_part(v.property_address, ' ', 1) AS house
        FROM leads_validated v
        WHERE v.upload_id = %(u)s AND v.property_address IS NOT NULL
          AND NOT (v.mak IS NOT NULL AND EXISTS (SELECT 1 FROM leads l1 WHERE l1.mak = v.mak))
          AND NOT (v.apn IS NOT NULL AND EXISTS (
                SELECT 1 FROM leads l2 WHERE l2.apn = v.apn AND l2.property_state = v.property_state
                  AND coalesce(l2.property_county, '') = coalesce(v.property_county, '')))
          AND NOT (v.addr_hash IS NOT NULL AND EXISTS (SELECT 1 FROM leads l3 WHERE l3.addr_hash = v.addr_hash))
    """, {"u": upload_id})
    unmatched = conn.execute("SELECT count(*) FROM _unmatched").fetchone()[0]
    conn.execute("ANALYZE _unmatched")
    # Their blocks, through leads' block index (ZIP, house number) and the index of leads without a
    # ZIP: nothing to look up when every row found its lead (a re-run, a repeat list).
    candidates = [] if unmatched == 0 else conn.execute("""
        SELECT u.row_number, u.property_address, l.id::text, l.property_address, 'zip', u.owner_key, l.owner_key
        FROM _unmatched u
        JOIN leads l ON l.property_zip = u.property_zip AND split_part(l.property_address, ' ', 1) = u.house
                    AND l.property_address IS NOT NULL
        WHERE u.property_zip IS NOT NULL AND l.property_address <> u.property_address
          -- a typo changes a line's length by at most two and keeps the letter after the house
          -- number and the last word (suffix or unit): cheap filters before any pair reaches Python
          AND abs(length(l.property_address) - length(u.property_address)) <= 2
          AND left(l.property_address, length(u.house) + 2) = left(u.property_address, length(u.house) + 2)
          AND split_part(reverse(l.property_address), ' ', 1) = split_part(reverse(u.property_address), ' ', 1)
        UNION ALL
        -- either way round: a row without its ZIP, or a lead made from a record without one
        SELECT u.row_number, u.property_address, l.id::text, l.property_address, 'city', u.owner_key, l.owner_key
        FROM _unmatched u
        JOIN leads l ON l.property_city = u.property_city AND l.property_state = u.property_state
                    AND l.property_address = u.property_address
        WHERE u.property_zip IS NULL
        UNION ALL
        SELECT u.row_number, u.property_address, l.id::text, l.property_address, 'city', u.owner_key, l.owner_key
        FROM _unmatched u
        JOIN leads l ON l.property_address = u.property_address AND l.property_city = u.property_city
                    AND l.property_state = u.property_state
        WHERE u.property_zip IS NOT NULL AND l.property_zip IS NULL AND l.property_address IS NOT NULL
    """).fetchall()
    # A parcel row that names its county but no state (a county name several states share, so
    # validation could not place it): the leads holding that APN in a county of that name.
    candidates += conn.execute("""
        SELECT v.row_number, '', l.id::text, coalesce(l.property_address, ''), 'apn', v.owner_key, l.owner_key
        FROM leads_validated v
        JOIN leads l ON l.apn = v.apn AND l.property_county = v.property_county
        WHERE v.upload_id = %(u)s AND v.apn IS NOT NULL AND v.mak IS NULL AND v.addr_hash IS NULL
          AND v.property_state IS NULL AND v.property_county IS NOT NULL
    """, {"u": upload_id}).fetchall()
    conn.execute("RESET enable_nestloop")
    conn.execute("RESET enable_mergejoin")
    conn.execute("RESET work_mem")
    return candidates


def hold_back_other_units(conn: psycopg.Connection, upload_id: str, designators: list[str]) -> int:
    """Rows whose unit-less address finds a unit-less lead of *another owner* at a building that
    holds unit leads (``12 OAK ST`` beside ``12 OAK ST APT 1``): two units written without their
    units, not a sale. Such a row gives up its address key (so it becomes a lead of its own, or
    the lead its earlier run made: lineage), and a ``dedupe_conflict`` records it. A unit-less
    address at a building without unit leads is a house: another owner there is a sale, as
    before. Runs after the second-chance pass, in the merge's transaction; returns the count."""
    unit = "(^| )(" + "|".join(d.replace("#", "\\#") for d in designators) + ")( |$)"
    conn.execute("DROP TABLE IF EXISTS pg_temp._held_back")
    conn.execute("SET LOCAL work_mem = '256MB'")       # the merge's own: the key join hashes in memory
    conn.execute("""
        CREATE TEMP TABLE _held_back ON COMMIT DROP AS
        -- first the few rows whose address key finds a unit-less lead of another owner (one hash
        -- join), then the checks on those alone: as one query, the planner joined every row of a
        -- million-row upload to every lead of its ZIP for the building test (20 s, not 0.5)
        WITH found AS MATERIALIZED (
          SELECT v.row_number, v.mak, v.apn, v.property_state, v.property_county, v.property_zip,
                 v.property_address, l.id AS address_lead
          FROM leads_validated v
          JOIN leads l ON l.addr_hash = v.addr_hash
          WHERE v.upload_id = %(u)s AND v.property_zip IS NOT NULL
            AND v.owner_key IS NOT NULL AND l.owner_key IS NOT NULL
            AND NOT (string_to_array(v.owner_key, ' ') && string_to_array(l.owner_key, ' '))
            AND substr(v.property_address, strpos(v.property_address, ' ') + 1) !~ %(unit)s
        )
        SELECT f.row_number, f.address_lead, src.lead_id AS before
        FROM found f
        LEFT JOIN lead_sources src ON src.upload_id = %(u)s AND src.row_number = f.row_number
        WHERE NOT EXISTS (SELECT 1 FROM leads m WHERE f.mak IS NOT NULL AND m.mak = f.mak)
          AND NOT EXISTS (SELECT 1 FROM leads a WHERE f.apn IS NOT NULL AND a.apn = f.apn
                          AND a.property_state = f.property_state
                          AND coalesce(a.property_county, '') = coalesce(f.property_county, ''))
          AND EXISTS (SELECT 1 FROM leads b WHERE b.property_zip = f.property_zip
                      AND b.property_address LIKE f.property_address || ' %%'
                      AND split_part(substr(b.property_address, length(f.property_address) + 2), ' ', 1)
                          = ANY(%(designators)s))
    """, {"u": upload_id, "unit": unit, "designators": designators})
    conn.execute("RESET work_mem")
    conn.execute("""
        DELETE FROM _held_back WHERE before = address_lead      -- merged there by an earlier run: stays
    """)
    held = conn.execute("""
        UPDATE leads_validated v SET addr_hash = NULL FROM _held_back h
        WHERE v.upload_id = %(u)s AND v.row_number = h.row_number
    """, {"u": upload_id}).rowcount
    # A row held back now or by an earlier run of this upload has no address key; its lineage
    # names the keyless lead it became, which it finds again (a row with a MAK or an APN finds
    # that lead by its key).
    conn.execute("""
        INSERT INTO _second_chance (row_number, lead_id, rule)
        SELECT v.row_number, l.id, 'the lead this row became before'
        FROM leads_validated v
        JOIN lead_sources src ON src.upload_id = v.upload_id AND src.row_number = v.row_number
        JOIN leads l ON l.id = src.lead_id
        WHERE v.upload_id = %(u)s AND v.addr_hash IS NULL AND l.addr_hash IS NULL
          AND v.mak IS NULL AND v.apn IS NULL
          AND l.property_address = v.property_address AND l.property_zip = v.property_zip
        ON CONFLICT (row_number) DO NOTHING
    """, {"u": upload_id})
    if held:
        conn.execute("""
            INSERT INTO pipeline_events (event_type, stage, upload_id, lead_id, details)
            SELECT 'dedupe_conflict', 'leads', %(u)s, address_lead,
                   jsonb_build_object('row_number', row_number, 'key', 'addr_hash',
                                      'rule', 'a unit-less record of another owner at a building with unit '
                                              'leads: another unit, not a sale')
            FROM _held_back
        """, {"u": upload_id})
    return held


def write_second_chance_links(conn: psycopg.Connection, found: dict[int, tuple[str, str]]) -> None:
    """Leave the links (row number -> (lead id, rule)) where the merge reads them."""
    if found:
        with conn.cursor().copy("COPY _second_chance (row_number, lead_id, rule) FROM STDIN") as copy:
            for row_number, (lead_id, rule) in found.items():
                copy.write_row((row_number, lead_id, rule))


def last_merge_if_unchanged(conn: psycopg.Connection, upload_id: str, fingerprint: str) -> tuple[int, dict] | None:
    """(event id, details) of the upload's last merge when nothing since can make a re-run differ:
    its latest stage outcome is that merge, the merge recorded ``fingerprint``, and every lineage
    row it wrote still names an existing lead (a reset, an erasure or a deleted lead means no)."""
    row = conn.execute(
        "SELECT e.id, e.details FROM ("
        "  SELECT id, event_type, details FROM pipeline_events WHERE upload_id = %s"
        "   AND event_type IN ('staged', 'validated', 'merged', 'upload_failed') ORDER BY id DESC LIMIT 1) e"
        " WHERE e.event_type = 'merged' AND e.details->>'fingerprint' = %s"
        "   AND (e.details->>'lineage_rows')::bigint = (SELECT count(*) FROM lead_sources s JOIN leads l"
        "                                              ON l.id = s.lead_id WHERE s.upload_id = %s)",
        (upload_id, fingerprint, upload_id)).fetchone()
    return (row[0], row[1]) if row else None


def lineage_rows(conn: psycopg.Connection, upload_id: str) -> int:
    return conn.execute("SELECT count(*) FROM lead_sources WHERE upload_id = %s", (upload_id,)).fetchone()[0]
