"""Operating the PII key ring: list, rotate, re-encrypt, retire (``equity keys``).

- **rotate** appends a new data key to the ring file; being the last line, it seals from then on.
  Processes read the ring when a run or request starts, so a run already under way finishes with
  the key it started with.
- **reencrypt** walks every place a sealed e-mail or phone is kept (``PLACES``) in key order, in
  batches that each commit on their own, and re-seals what is not under the active key: tokens of
  older keys, and values an older version stored in plain text (plain suppressions become blind
  indexes). Each write is a compare-and-set on the value read, so a merge or an event changing the
  row meanwhile wins and nothing is lost; the walk is resumable because what is done no longer
  matches. Each batch records a ``pii_decrypted`` event (purpose, count, never a value).
- **retire** removes a key from the ring only when it is not the active key and no token in the
  warehouse is sealed under it (``usage``): a token whose key is gone can never be opened.

The ring file is rewritten atomically (a temporary file, 0600, then a rename).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from orchestration.core.files import write_atomic
from orchestration.privacy import pii

Log = Callable[[str], None]


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


def _stale(place: Place, active: str) -> sql.Composable:
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


def _reseal_payload(sealer: pii.Sealer, payload: dict) -> dict:
    out = dict(payload)
    for field, channel, leaf in (("phones", "phone", "number"), ("emails", "email", "address")):
        if isinstance(out.get(field), list):
            out[field] = [({**x, leaf: sealer.reseal(channel, x[leaf])} if isinstance(x, dict) and x.get(leaf)
                           else x) for x in out[field]]
    return out


def _reseal_record(sealer: pii.Sealer, payload: dict) -> dict:
    out = dict(payload)
    plain = {k: out.pop(k) for k in ("row", "text") if k in out}
    if plain:                      # quoted in plain text by an older version: seal it now
        text = json.dumps(plain.get("row"), ensure_ascii=False, sort_keys=True) if "row" in plain else plain["text"]
        out["record"] = sealer.seal_record(text)
        out["pii_index"] = sealer.record_indexes(text if "text" in plain else " ".join(map(str, plain["row"].values())))
    elif "record" in out:
        out["record"] = sealer.reseal_record(out["record"])
    return out


def _reseal(sealer: pii.Sealer, place: Place, value):
    if place.kind in ("email", "phone"):
        return sealer.reseal(place.kind, value)
    if place.kind == "payload":
        return Jsonb(_reseal_payload(sealer, value))
    return Jsonb(_reseal_record(sealer, value))


@dataclass
class Progress:
    place: str
    resealed: int
    skipped: int      # changed by someone else between the read and the write: left for a re-run


def reencrypt(conn: psycopg.Connection, sealer: pii.Sealer, *, batch: int = 2000, log: Log = print,
              run_id: str | None = None) -> list[Progress]:
    """Re-seal everything not under the ring's active key (see the module). ``conn`` must be in
    autocommit mode: each batch is its own transaction."""
    active = sealer.ring.active_id
    out = []
    for place in PLACES:
        keys = sql.SQL(", ").join(map(sql.Identifier, place.key))
        after: tuple | None = None
        done = skipped = 0
        t0 = time.perf_counter()
        while True:
            where = _stale(place, active)
            if after is not None:
                where = sql.SQL("({k}) > ({v}) AND {w}").format(
                    k=keys, v=sql.SQL(", ").join(sql.Placeholder() * len(after)), w=where)
            with conn.transaction():
                rows = conn.execute(sql.SQL("SELECT {k}, {c} FROM {t} WHERE {w} ORDER BY {k} LIMIT {n}").format(
                    k=keys, c=sql.Identifier(place.column), t=sql.Identifier(place.table), w=where,
                    n=sql.Literal(batch)), after or ()).fetchall()
                if not rows:
                    break
                match = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in place.key)
                update = sql.SQL("UPDATE {t} SET {c} = %s WHERE {m} AND {c} = %s").format(
                    t=sql.Identifier(place.table), c=sql.Identifier(place.column), m=match)
                params = [(_reseal(sealer, place, value), *key,
                           Jsonb(value) if place.kind in ("payload", "record") else value)
                          for *key, value in rows]
                with conn.cursor() as cur:     # one pipelined round of statements, not one per row
                    cur.executemany(update, params)
                    written = cur.rowcount
                done += written
                skipped += len(rows) - written
                conn.execute("INSERT INTO pipeline_events (event_type, stage, run_id, row_count, details)"
                             " VALUES ('pii_decrypted', 'keys', %s, %s, %s)",
                             (run_id, len(rows), Jsonb({"purpose": "reencrypt", "place": place.name,
                                                        "active_key": active})))
                after = tuple(rows[-1][:-1])
            log(f"  {place.name}: {done:,} re-sealed ({time.perf_counter() - t0:.1f}s)")
        out.append(Progress(place.name, done, skipped))
    out.append(Progress("suppressions.value", blind_plain_suppressions(conn, sealer), 0))
    return out


def blind_plain_suppressions(conn: psycopg.Connection, sealer: pii.Sealer) -> int:
    """Suppressions an older version stored as plain e-mails and phones become blind indexes."""
    with conn.transaction():
        rows = conn.execute("SELECT channel, value, reason, source, created_at FROM suppressions"
                            " WHERE channel IN ('email', 'phone') AND value !~ '^[0-9a-f]{32}$'").fetchall()
        for channel, value, reason, source, created in rows:
            conn.execute("INSERT INTO suppressions (channel, value, reason, source, created_at)"
                         " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                         (channel, sealer.blind(channel, value), reason, source, created))
            conn.execute("DELETE FROM suppressions WHERE channel = %s AND value = %s AND reason = %s",
                         (channel, value, reason))
    return len(rows)


def usage(conn: psycopg.Connection) -> Counter:
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


# -- the ring file --------------------------------------------------------------------------------

def _write_ring(path: Path, text: str) -> None:
    write_atomic(path, text)


def rotate(path: Path, key_id: str) -> pii.KeyRing:
    """Append a new key (the active one from now on); returns the new ring."""
    ring = pii.load_ring(path)
    if key_id in ring.keys:
        raise pii.KeyRingError(f"{path} already holds a key {key_id!r}: choose another id")
    text = path.read_text()
    _write_ring(path, text + ("" if text.endswith("\n") or not text else "\n") + pii.new_key_line(key_id))
    return pii.load_ring(path)


def retire(path: Path, key_id: str, in_use: Counter) -> pii.KeyRing:
    """Remove a key that nothing uses (``in_use``: usage()); refuses the active key and a key in use."""
    ring = pii.load_ring(path)
    if key_id not in ring.keys:
        raise pii.KeyRingError(f"{path} holds no key {key_id!r} (keys: {', '.join(ring.keys)})")
    if key_id == ring.active_id:
        raise pii.KeyRingError(f"{key_id!r} is the active key: rotate first (`equity keys rotate`), then "
                               "re-encrypt (`equity keys reencrypt`), then retire it")
    if in_use.get(key_id):
        raise pii.KeyRingError(f"{in_use[key_id]:,} values are still sealed under {key_id!r}: run `equity keys "
                               "reencrypt` (again, if an ingest that started before the rotation wrote some), "
                               "then retire it")
    kept = []
    for line in path.read_text().splitlines(keepends=True):
        kid, sep, _ = line.strip().partition(":")
        if sep and not line.lstrip().startswith("#") and kid.strip() == key_id:
            continue
        kept.append(line)
    _write_ring(path, "".join(kept))
    return pii.load_ring(path)
