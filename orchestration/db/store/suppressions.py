"""Suppressions: from uploads (vendor DNC and litigator flags), imported lists, one by one, counts."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg


def suppress_from_upload(conn: psycopg.Connection, upload_id: str) -> int:
    """Before the merge: vendor DNC and Litigator flags of the upload become suppressions, and its
    rows' suppressed phones carry phone_verified = false (suppress_from_upload.sql)."""
    return conn.execute("SELECT suppress_from_upload(%s)", (upload_id,)).fetchone()[0]


def unverify_suppressed_phones(conn: psycopg.Connection, upload_id: str) -> int:
    """After the merge: leads holding a suppressed phone of the upload lose phone_verified."""
    return conn.execute("SELECT unverify_suppressed_phones(%s)", (upload_id,)).fetchone()[0]


def suppress_imported_phones(conn: psycopg.Connection, indexes: Iterable[str], reason: str,
                             source: str) -> tuple[int, int]:
    """Put phones (their blind indexes, any number of them) on the suppression list set-based: COPY
    into a work table, one INSERT ... ON CONFLICT into the list; the leads holding them lose
    phone_verified. Call it inside a transaction. Returns (suppressions added, leads changed)."""
    conn.execute("CREATE TEMP TABLE _dnc_import (value text) ON COMMIT DROP")
    with conn.cursor().copy("COPY _dnc_import (value) FROM STDIN") as copy:
        batch: list[str] = []
        for value in indexes:
            batch.append(value)
            if len(batch) >= 50_000:
                copy.write("\n".join(batch) + "\n")
                batch = []
        if batch:
            copy.write("\n".join(batch) + "\n")
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


def _pairs_into(cur: psycopg.Cursor, table: str, columns: tuple[str, str], rows) -> None:
    """COPY (a, b) text pairs into an empty temp work table of this transaction."""
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({columns[0]} text, {columns[1]} text) ON COMMIT DROP")
    cur.execute(f"TRUNCATE {table}")
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def add_suppressions(conn: psycopg.Connection, entries: list[tuple[str, str]], reason: str, source: str) -> int:
    """(channel, blind index) entries onto the list with one reason and source; returns those added."""
    with conn.cursor() as cur:
        _pairs_into(cur, "_suppress_many", ("channel", "value"), entries)
        return cur.execute("INSERT INTO suppressions (channel, value, reason, source)"
                           " SELECT DISTINCT channel, value, %s, %s FROM _suppress_many WHERE value IS NOT NULL"
                           " ON CONFLICT DO NOTHING", (reason, source)).rowcount


# -- hashed deletion requests (orchestration.privacy.deletion_list) -------------------------------

def add_deletion_hashes(conn: psycopg.Connection, rows: list[tuple[str, str]], source: str) -> int:
    """(channel, sha256 hex) rows into deletion_requests; returns those that were new."""
    with conn.cursor() as cur:
        _pairs_into(cur, "_deletion_import", ("channel", "sha256"), rows)
        return cur.execute("INSERT INTO deletion_requests (channel, sha256, source)"
                           " SELECT DISTINCT channel, sha256, %s FROM _deletion_import ON CONFLICT DO NOTHING",
                           (source,)).rowcount


def deletion_hashes(conn: psycopg.Connection) -> dict[str, set[str]]:
    """{channel: hashes} of every deletion request held ('any': the list did not say which)."""
    out: dict[str, set[str]] = {}
    for channel, digest in conn.execute("SELECT channel, sha256 FROM deletion_requests"):
        out.setdefault(channel, set()).add(digest)
    return out


_PERSON_TOKENS = """
SELECT DISTINCT c.channel, c.token
FROM {table} AS v
CROSS JOIN LATERAL (
  SELECT 'email', v.email
  UNION ALL SELECT 'phone', v.phone
  UNION ALL SELECT 'email', e ->> 'address' FROM jsonb_array_elements(coalesce(v.melissa_payload -> 'emails', '[]')) AS e
  UNION ALL SELECT 'phone', p ->> 'number' FROM jsonb_array_elements(coalesce(v.melissa_payload -> 'phones', '[]')) AS p
) AS c (channel, token)
WHERE c.token IS NOT NULL {where}
"""


def person_tokens(conn: psycopg.Connection, upload_id: str | None):
    """Every distinct sealed e-mail and phone (chosen or kept in the payload) of one upload's
    validated rows, or of every lead when ``upload_id`` is None: (channel, token), streamed by a
    server-side cursor (call it inside a transaction)."""
    if upload_id is None:
        sql, params = _PERSON_TOKENS.format(table="leads", where=""), ()
    else:
        sql, params = _PERSON_TOKENS.format(table="leads_validated", where="AND v.upload_id = %s"), (upload_id,)
    with conn.cursor(name="person_tokens") as cur:
        cur.itersize = 20_000
        cur.execute(sql, params)
        yield from cur


def leads_with_suppression_reason(conn: psycopg.Connection, reason: str, source: str | None = None) -> int:
    """Leads whose e-mail or phone is suppressed for ``reason`` (from ``source``, when given); the
    few entries are looked up in the leads' blind-index indexes, never the other way round."""
    return conn.execute(
        "SELECT count(DISTINCT l.id) FROM suppressions s"
        " JOIN leads l ON (s.channel = 'email' AND pii_index(l.email) = s.value AND l.email IS NOT NULL)"
        "              OR (s.channel = 'phone' AND pii_index(l.phone) = s.value AND l.phone IS NOT NULL)"
        " WHERE s.reason = %(r)s AND (%(s)s::text IS NULL OR s.source = %(s)s)",
        {"r": reason, "s": source}).fetchone()[0]
