"""A person's erasure across the tables that can hold them: their leads, previous-owner rows, work
rows, DLQ payloads and inbound events; and, at merge time, the upload rows that name an erased
person. E-mails and phones are matched by blind index (``pii_index``), file text by ILIKE."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

_NO_PERSON = ("first_name = NULL, last_name = NULL, email = NULL, phone = NULL, age = NULL,"
              " email_verified = false, phone_verified = false, email_verification_codes = '{}',"
              " phone_verification_codes = '{}', melissa_payload = '{}', owner_key = NULL")


def leads_of_person(conn: psycopg.Connection, *, lead_id: str | None = None, channel: str | None = None,
                    index: str | None = None) -> list[dict]:
    """The lead ``lead_id``, or every lead whose chosen or other e-mail/phone (``channel``) has the
    blind index ``index``."""
    cur = conn.cursor(row_factory=dict_row)
    if lead_id:
        return cur.execute("SELECT * FROM leads WHERE id = %s", (lead_id,)).fetchall()
    if channel not in ("email", "phone"):
        raise ValueError(f"a person is found by e-mail or phone, not {channel!r}")
    field = "address" if channel == "email" else "number"
    return cur.execute(
        f"SELECT * FROM leads WHERE pii_index({channel}) = %(i)s"
        f"   OR EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(melissa_payload -> '{channel}s', '[]')) AS x"
        f"              WHERE pii_index(x ->> '{field}') = %(i)s)", {"i": index}).fetchall()


def erase_leads(conn: psycopg.Connection, ids: list) -> int:
    """The leads keep their ids and property keys only, set do_not_contact; already-erased leads
    are not counted again."""
    return conn.execute(
        f"UPDATE leads SET {_NO_PERSON}, broker_notes = NULL,"
        " consent = false, consented_at = NULL, consent_method = NULL, campaign_status = 'do_not_contact',"
        " erased_at = now()"
        " WHERE id = ANY(%s) AND (erased_at IS NULL OR email IS NOT NULL OR phone IS NOT NULL"
        "   OR first_name IS NOT NULL OR last_name IS NOT NULL OR melissa_payload <> '{}')",
        (ids,)).rowcount


def erase_owner_history(conn: psycopg.Connection, indexes: list[str]) -> int:
    return conn.execute(
        "UPDATE lead_owner_history SET first_name = NULL, last_name = NULL, email = NULL, phone = NULL,"
        " owner_key = NULL, melissa_payload = NULL, broker_notes = NULL"
        " WHERE pii_index(email) = ANY(%(i)s) OR pii_index(phone) = ANY(%(i)s)", {"i": indexes}).rowcount


def erase_work_rows(conn: psycopg.Connection, indexes: list[str], like: list[str]) -> int:
    """Validated rows holding the indexes, staged rows whose text matches any ``like`` pattern."""
    n = conn.execute("DELETE FROM leads_validated WHERE pii_index(email) = ANY(%(i)s) OR pii_index(phone) = ANY(%(i)s)",
                     {"i": indexes}).rowcount
    if like:
        n += conn.execute("DELETE FROM leads_staging s WHERE s::text ILIKE ANY(%s)", (like,)).rowcount
    return n


def scrub_dlq_of_person(conn: psycopg.Connection, indexes: list[str], like: list[str]) -> int:
    """A sealed record carries the blind indexes of the e-mails and phones in it; a plain one
    (written before records were sealed) is searched as text. What stays: where and why."""
    return conn.execute(
        "UPDATE pipeline_dlq SET payload = jsonb_build_object('erased_at', now(), 'reason_kept', true)"
        "   || jsonb_strip_nulls(jsonb_build_object('upload_id', payload->'upload_id',"
        "      'row_number', payload->'row_number', 'line', payload->'line', 'status', payload->'status'))"
        " WHERE payload -> 'pii_index' ?| %s::text[] OR payload::text ILIKE ANY(%s)",
        (indexes, like)).rowcount


def erase_lead_events(conn: psycopg.Connection, ids: list, indexes: list[str], like: list[str]) -> int:
    if like:
        return conn.execute(
            "UPDATE lead_events SET email = NULL, phone = NULL, data = '{}'"
            " WHERE lead_id = ANY(%s) OR pii_index(email) = ANY(%s) OR pii_index(phone) = ANY(%s)"
            "    OR data::text ILIKE ANY(%s)", (ids, indexes, indexes, like)).rowcount
    if ids:
        return conn.execute("UPDATE lead_events SET email = NULL, phone = NULL, data = '{}' WHERE lead_id = ANY(%s)",
                            (ids,)).rowcount
    return 0


def erasure_entries(conn: psycopg.Connection) -> set[tuple[str, str]]:
    """(channel, value) of every erasure suppression."""
    return {(c, v) for c, v in conn.execute("SELECT channel, value FROM suppressions WHERE reason = 'erasure'")}


def rows_naming_erased(conn: psycopg.Connection, upload_id: str) -> list[dict]:
    """The upload's validated rows whose e-mail or phone (chosen or in the payload) is under an
    erasure suppression, and those at an erased lead's address with an owner key (``owner`` =
    addr_hash|owner_key, for the caller to check against the owner entries)."""
    return conn.cursor(row_factory=dict_row).execute(
        "WITH gone AS (SELECT channel, value FROM suppressions WHERE reason = 'erasure' AND channel IN ('email', 'phone'))"
        " SELECT v.row_number, v.email, v.phone, v.melissa_payload, NULL AS owner FROM leads_validated v"
        " WHERE v.upload_id = %(u)s AND ("
        "   pii_index(v.email) IN (SELECT value FROM gone WHERE channel = 'email')"
        "   OR pii_index(v.phone) IN (SELECT value FROM gone WHERE channel = 'phone')"
        "   OR EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(v.melissa_payload -> 'emails', '[]')) AS x"
        "              WHERE pii_index(x ->> 'address') IN (SELECT value FROM gone WHERE channel = 'email'))"
        "   OR EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(v.melissa_payload -> 'phones', '[]')) AS x"
        "              WHERE pii_index(x ->> 'number') IN (SELECT value FROM gone WHERE channel = 'phone')))"
        " UNION ALL"
        " SELECT v.row_number, v.email, v.phone, v.melissa_payload, v.addr_hash || '|' || v.owner_key"
        " FROM leads_validated v"
        " WHERE v.upload_id = %(u)s AND v.owner_key IS NOT NULL"
        "   AND v.addr_hash IN (SELECT addr_hash FROM leads WHERE erased_at IS NOT NULL AND addr_hash IS NOT NULL)",
        {"u": upload_id}).fetchall()


def scrub_upload_rows(conn: psycopg.Connection, upload_id: str, numbers: list[int]) -> int:
    """The upload's validated rows ``numbers`` keep their property but lose every personal field;
    their staged rows (in-file duplicates too) go. Returns the validated rows scrubbed."""
    conn.execute(
        "DELETE FROM leads_staging s USING leads_validated v, unnest(coalesce(v.member_rows, ARRAY[v.row_number])) AS m(n)"
        " WHERE v.upload_id = %(u)s AND v.row_number = ANY(%(r)s) AND s.upload_id = %(u)s AND s.row_number = m.n",
        {"u": upload_id, "r": numbers})
    return conn.execute(f"UPDATE leads_validated SET {_NO_PERSON} WHERE upload_id = %s AND row_number = ANY(%s)",
                        (upload_id, numbers)).rowcount
