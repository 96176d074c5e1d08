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
from psycopg.types.json import Jsonb

from orchestration.core.files import write_atomic
from orchestration.db import store
from orchestration.db.store.sealed import PLACES, Place
from orchestration.privacy import pii

Log = Callable[[str], None]


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
        after: tuple | None = None
        done = skipped = 0
        t0 = time.perf_counter()
        while True:
            with conn.transaction():
                rows = store.stale_batch(conn, place, active, after, batch)
                if not rows:
                    break
                written = store.write_resealed(conn, place, [
                    (_reseal(sealer, place, value), *key, Jsonb(value) if place.kind in ("payload", "record") else value)
                    for *key, value in rows])
                done += written
                skipped += len(rows) - written
                store.record_event(conn, "pii_decrypted", stage="keys", run_id=run_id, row_count=len(rows),
                                   details={"purpose": "reencrypt", "place": place.name, "active_key": active})
                after = tuple(rows[-1][:-1])
            log(f"  {place.name}: {done:,} re-sealed ({time.perf_counter() - t0:.1f}s)")
        out.append(Progress(place.name, done, skipped))
    out.append(Progress("suppressions.value", blind_plain_suppressions(conn, sealer), 0))
    return out


def blind_plain_suppressions(conn: psycopg.Connection, sealer: pii.Sealer) -> int:
    """Suppressions an older version stored as plain e-mails and phones become blind indexes."""
    with conn.transaction():
        rows = store.plain_suppressions(conn)
        for row in rows:
            store.replace_suppression_value(conn, row, sealer.blind(row[0], row[1]))
    return len(rows)


def warehouse_mismatch(conn: psycopg.Connection, sealer: pii.Sealer) -> str | None:
    """Why ``sealer`` is not what the warehouse's e-mails and phones were sealed and indexed with
    (one line naming the file to restore), or None when it is — or when nothing is sealed yet.

    A sample (the oldest and newest leads), not a census: a wrong file is wrong for every value, and
    ``equity keys list`` counts every value per key when a census is wanted."""
    from cryptography.exceptions import InvalidTag

    for channel, token in store.sealed_sample(conn):
        kid = pii.key_id_of(token)
        if kid not in sealer.ring.keys:
            return (f"the warehouse holds {channel}s sealed under data key {kid!r}, which EC_PII_KEYS_FILE "
                    f"({', '.join(sealer.ring.keys)}) does not hold: restore the key file from the backup "
                    "of keys (a new key cannot open them)")
        try:
            sealer.open(channel, token)
        except InvalidTag:
            return (f"data key {kid!r} of EC_PII_KEYS_FILE does not open the {channel}s sealed under that id: "
                    "this is not the key file they were sealed with; restore it from the backup of keys")
        except ValueError:
            return ("EC_INDEX_KEY_FILE is not the key the warehouse's e-mails and phones were indexed with "
                    "(suppressions and erasures would match nothing): restore it from the backup of keys")
    return None


def usage(conn: psycopg.Connection) -> Counter:
    """How many sealed values each key id seals across PLACES ('(plain)': values not sealed at all)."""
    return store.sealed_usage(conn)


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
