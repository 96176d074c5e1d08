"""Re-key existing leads when the address or APN rules change.

A lead's ``addr_hash`` and ``apn`` are derived from what an upload said, by the rules of the
normaliser at that time. When the rules change (a ZIP-anchored key, new Publication 28 forms, the
APN's leading zeros, the owner key, the county that scopes an APN — the ZIP's when the lead has
none), existing leads must carry the keys the *new* rules give, or
the next upload of the same property would not find them. ``rekey`` re-normalises every lead's stored address (the
stored form is itself an address, and normalising it again is stable) and APN, and writes what
changed:

- keys are set in two steps (cleared, then written) so the unique indexes never see a transient
  clash between two leads swapping keys;
- when the new rules make two existing leads one property (``123 FOURTH ST`` and ``123 4TH ST``),
  the oldest lead keeps the key, the others keep their data without it, and a ``dedupe_conflict``
  event names both (once: a later re-key finding the same pair records nothing new) — merging two
  leads (owners, campaign state) is a person's decision;
- an address suppression follows its lead's new key (the old value stays too).

Runs in the caller's transaction (a migration), in batches so memory stays flat.
"""

from __future__ import annotations

import pandas as pd
import psycopg

from orchestration.identity import normalize as norm
from orchestration.identity import places

BATCH = 200_000


def rekey(conn: psycopg.Connection) -> dict[str, int]:
    conn.execute("""
        CREATE TEMP TABLE _rekey (id uuid PRIMARY KEY, address text, apn text, addr_hash text, owner_key text,
                                  county text)
        ON COMMIT DROP
    """)
    with conn.cursor(name="rekey_leads") as cur:
        cur.itersize = BATCH
        cur.execute("""
            SELECT id, property_address, property_city, property_state, property_zip, apn, first_name, last_name,
                   property_county
            FROM leads
        """)
        while rows := cur.fetchmany(BATCH):
            _load(conn, pd.DataFrame(rows, columns=["id", "address", "city", "state", "zip", "apn", "first", "last",
                                                      "county"]))
    conn.execute("ANALYZE _rekey")
    conn.execute("""
        CREATE TEMP TABLE _rekey_ranked ON COMMIT DROP AS
        SELECT r.id, r.address, r.apn, r.addr_hash, l.addr_hash AS old_hash,
               row_number() OVER w_hash AS hash_rank, first_value(r.id) OVER w_hash AS hash_keeper,
               row_number() OVER w_apn AS apn_rank, first_value(r.id) OVER w_apn AS apn_keeper,
               (l.addr_hash IS DISTINCT FROM r.addr_hash OR l.apn IS DISTINCT FROM r.apn
                OR l.property_address IS DISTINCT FROM r.address) AS changed
        FROM _rekey r JOIN leads l ON l.id = r.id
        WINDOW w_hash AS (PARTITION BY r.addr_hash ORDER BY l.created_at, l.id),
               w_apn AS (PARTITION BY r.apn, l.property_state ORDER BY l.created_at, l.id)
    """)
    conn.execute("""
        UPDATE leads l SET addr_hash = NULL, apn = NULL
        FROM _rekey_ranked r WHERE l.id = r.id AND r.changed
    """)
    changed = conn.execute("""
        UPDATE leads l SET property_address = r.address,
               addr_hash = CASE WHEN r.hash_rank = 1 THEN r.addr_hash END,
               apn = CASE WHEN r.apn_rank = 1 THEN r.apn END
        FROM _rekey_ranked r WHERE l.id = r.id AND r.changed
    """).rowcount
    conn.execute("""
        UPDATE leads l SET owner_key = r.owner_key, property_county = r.county
        FROM _rekey r WHERE l.id = r.id
          AND (l.owner_key IS DISTINCT FROM r.owner_key OR l.property_county IS DISTINCT FROM r.county)
    """)
    conflicts = conn.execute("""
        INSERT INTO pipeline_events (event_type, stage, lead_id, details)
        SELECT 'dedupe_conflict', 'rekey', r.id,
               jsonb_build_object('key', k.key, 'other_lead_id', k.keeper,
                                  'rule', 'new key rules: the older lead keeps a key two leads now share')
        FROM _rekey_ranked r
        CROSS JOIN LATERAL (VALUES ('addr_hash', r.addr_hash, r.hash_rank, r.hash_keeper),
                                   ('apn', r.apn, r.apn_rank, r.apn_keeper)) AS k (key, value, rank, keeper)
        WHERE k.value IS NOT NULL AND k.rank > 1
          -- a later re-key (another rule change) finds the same pair again: recorded once
          AND NOT EXISTS (SELECT 1 FROM pipeline_events e WHERE e.event_type = 'dedupe_conflict'
                          AND e.stage = 'rekey' AND e.lead_id = r.id AND e.details->>'key' = k.key
                          AND e.details->>'other_lead_id' = k.keeper::text)
    """).rowcount
    conn.execute("""
        INSERT INTO suppressions (channel, value, reason, source, created_at)
        SELECT 'address', r.addr_hash, s.reason, s.source, s.created_at
        FROM _rekey_ranked r JOIN suppressions s ON s.channel = 'address' AND s.value = r.old_hash
        WHERE r.addr_hash IS NOT NULL AND r.addr_hash <> r.old_hash
        ON CONFLICT DO NOTHING
    """)
    return {"leads_rekeyed": changed, "key_conflicts": conflicts}


def _load(conn: psycopg.Connection, frame: pd.DataFrame) -> None:
    text = frame.astype({c: "string" for c in ("address", "city", "state", "zip", "apn", "first", "last", "county")})
    street, unit = norm.street_and_unit(text["address"])
    address = norm.full_address(street, unit).replace("", pd.NA)
    keys = pd.DataFrame({
        "id": frame["id"], "address": address, "apn": norm.apn(text["apn"]),
        "addr_hash": norm.addr_hash(address, text["city"], text["state"], text["zip"]),
        "owner_key": norm.owner_key(text["first"], text["last"]),
        "county": norm.county(text["county"]).fillna(norm.county(places.county_from_zip(text["zip"]))),
    })
    with conn.cursor().copy("COPY _rekey (id, address, apn, addr_hash, owner_key, county) FROM STDIN") as copy:
        for row in keys.astype(object).where(keys.notna(), None).itertuples(index=False):
            copy.write_row(row)
