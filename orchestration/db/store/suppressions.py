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
