"""Where sealed e-mails and phones are kept, and the SQL that walks them: finding values not
sealed under the active key (in key order, a batch at a time), writing re-sealed values back as a
compare-and-set on the value read, counting values per key, and plain suppressions. The sealing
itself is ``orchestration.privacy`` (this module never sees a key)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class Place:
    """A column that holds sealed values: a channel column (``email``/``phone``), a skip-trace
    payload (``payload``: its phones' numbers and e-mails' addresses) or a DLQ payload (``record``)."""

    table: str
    key: tuple[str, ...]
    column: str
    kind: str

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


PLACES = (
    Place("leads", ("id",), "email", "email"),
    Place("leads", ("id",), "phone", "phone"),
    Place("leads", ("id",), "melissa_payload", "payload"),
    Place("lead_owner_history", ("id",), "email", "email"),
    Place("lead_owner_history", ("id",), "phone", "phone"),
    Place("lead_owner_history", ("id",), "melissa_payload", "payload"),
    Place("lead_events", ("id",), "email", "email"),
    Place("lead_events", ("id",), "phone", "phone"),
    Place("leads_validated", ("upload_id", "row_number"), "email", "email"),
    Place("leads_validated", ("upload_id", "row_number"), "phone", "phone"),
    Place("leads_validated", ("upload_id", "row_number"), "melissa_payload", "payload"),
    Place("pipeline_dlq", ("id",), "payload", "record"),
)


def stale_condition(place: Place, active: str) -> sql.Composable:
    """SQL: this row's value at ``place`` holds something not sealed under ``active``."""
    col = sql.Identifier(place.column)
    if place.kind in ("email", "phone"):
        return sql.SQL("({c} IS NOT NULL AND ({c} NOT LIKE 'enc1.%%' OR split_part({c}, '.', 3) <> {a}))").format(
            c=col, a=sql.Literal(active))
    if place.kind == "payload":
        return sql.SQL(
            "EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce({c} -> 'phones', '[]')"
            "                  || coalesce({c} -> 'emails', '[]')) AS x,"
            "        coalesce(x ->> 'number', x ->> 'address') AS v"
            "        WHERE v IS NOT NULL AND (v NOT LIKE 'enc1.%%' OR split_part(v, '.', 3) <> {a}))").format(
            c=col, a=sql.Literal(active))
    return sql.SQL("({c} ? 'row' OR {c} ? 'text' OR ({c} ? 'record' AND split_part({c} ->> 'record', '.', 2) <> {a}))"
                   ).format(c=col, a=sql.Literal(active))


def stale_batch(conn: psycopg.Connection, place: Place, active: str, after: tuple | None, limit: int) -> list[tuple]:
    """The next ``limit`` rows (key columns..., value) at ``place`` holding something not sealed
    under ``active``, in key order after the key ``after``."""
    keys = sql.SQL(", ").join(map(sql.Identifier, place.key))
    where = stale_condition(place, active)
    if after is not None:
        where = sql.SQL("({k}) > ({v}) AND {w}").format(
            k=keys, v=sql.SQL(", ").join(sql.Placeholder() * len(after)), w=where)
    return conn.execute(sql.SQL("SELECT {k}, {c} FROM {t} WHERE {w} ORDER BY {k} LIMIT {n}").format(
        k=keys, c=sql.Identifier(place.column), t=sql.Identifier(place.table), w=where,
        n=sql.Literal(limit)), after or ()).fetchall()


def write_resealed(conn: psycopg.Connection, place: Place, params: Iterable[tuple]) -> int:
    """Write (new value, key columns..., value read) rows back where the value is still the one
    read (a merge or event that changed the row meanwhile wins); returns the rows written."""
    match = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in place.key)
    update = sql.SQL("UPDATE {t} SET {c} = %s WHERE {m} AND {c} = %s").format(
        t=sql.Identifier(place.table), c=sql.Identifier(place.column), m=match)
    with conn.cursor() as cur:     # one pipelined round of statements, not one per row
        cur.executemany(update, list(params))
        return cur.rowcount


def plain_suppressions(conn: psycopg.Connection) -> list[tuple]:
    """E-mail and phone suppressions an older version stored as plain values (not blind indexes):
    (channel, value, reason, source, created_at)."""
    return conn.execute("SELECT channel, value, reason, source, created_at FROM suppressions"
                        " WHERE channel IN ('email', 'phone') AND value !~ '^[0-9a-f]{32}$'").fetchall()


def replace_suppression_value(conn: psycopg.Connection, row: tuple, new_value: str) -> None:
    """One suppression (a plain_suppressions() row) takes ``new_value``, keeping its reason, source and time."""
    channel, value, reason, source, created = row
    conn.execute("INSERT INTO suppressions (channel, value, reason, source, created_at)"
                 " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", (channel, new_value, reason, source, created))
    conn.execute("DELETE FROM suppressions WHERE channel = %s AND value = %s AND reason = %s",
                 (channel, value, reason))


def sealed_usage(conn: psycopg.Connection) -> Counter:
    """How many sealed values each key id seals across PLACES ('(plain)': values not sealed at all)."""
    counts: Counter = Counter()
    for place in PLACES:
        col, table = sql.Identifier(place.column), sql.Identifier(place.table)
        if place.kind in ("email", "phone"):
            q = sql.SQL("SELECT CASE WHEN {c} LIKE 'enc1.%%' THEN split_part({c}, '.', 3) ELSE '(plain)' END, count(*)"
                        " FROM {t} WHERE {c} IS NOT NULL GROUP BY 1").format(c=col, t=table)
        elif place.kind == "payload":
            q = sql.SQL("SELECT CASE WHEN v LIKE 'enc1.%%' THEN split_part(v, '.', 3) ELSE '(plain)' END, count(*)"
                        " FROM {t}, jsonb_array_elements(coalesce({c} -> 'phones', '[]')"
                        "                                || coalesce({c} -> 'emails', '[]')) AS x,"
                        "      coalesce(x ->> 'number', x ->> 'address') AS v WHERE v IS NOT NULL GROUP BY 1"
                        ).format(c=col, t=table)
        else:
            q = sql.SQL("SELECT CASE WHEN {c} ? 'record' THEN split_part({c} ->> 'record', '.', 2) ELSE '(plain)' END,"
                        " count(*) FROM {t} WHERE {c} ?| ARRAY['record', 'row', 'text'] GROUP BY 1").format(c=col, t=table)
        for kid, n in conn.execute(q, ()).fetchall():
            counts[kid] += n
    n = conn.execute("SELECT count(*) FROM suppressions WHERE channel IN ('email', 'phone')"
                     " AND value !~ '^[0-9a-f]{32}$'").fetchone()[0]
    if n:
        counts["(plain)"] += n
    return counts


def sealed_sample(conn: psycopg.Connection, per_end: int = 20) -> list[tuple[str, str]]:
    """(channel, token) of the oldest and the newest leads' sealed e-mails and phones (lead ids are
    time-ordered, so both ends are primary-key range reads, cheap at any size of ``leads``)."""
    out: list[tuple[str, str]] = []
    for channel in ("email", "phone"):
        col = sql.Identifier(channel)
        q = sql.SQL("(SELECT {c} FROM leads WHERE {c} LIKE 'enc1.%%' ORDER BY id LIMIT {n})"
                    " UNION ALL (SELECT {c} FROM leads WHERE {c} LIKE 'enc1.%%' ORDER BY id DESC LIMIT {n})"
                    ).format(c=col, n=sql.Literal(per_end))
        out += [(channel, r[0]) for r in conn.execute(q).fetchall()]
    return out
