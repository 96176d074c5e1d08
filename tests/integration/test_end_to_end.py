"""The real thing: HTTP endpoint on loopback, the CLI client, a sensor tick on a PostgreSQL-backed
DagsterInstance, the ingest run, and `leads` asserted; then idempotence of a re-run."""

import csv
import io
import os
import subprocess
import sys

import psycopg

from orchestration.settings import REPO_ROOT
from tests.support.stack import TEST_KEYS, leads_checksum, opened, run_ingest, tick_sensor

COLS = ["mak", "apn", "property_address", "property_unit", "property_city", "property_state", "property_zip",
        "owner_first_name", "owner_last_name", "email_1", "email_1_status", "phone_1", "phone_1_status"]
ROWS = [
    # A, and its duplicate by MAK in another format
    ["M1", "", "123 North Main Street", "Apartment 4B", "Springfield", "IL", "62704", "ann", "lee", "", "", "", ""],
    ["M1", "", "123 N MAIN ST APT 4B", "", "SPRINGFIELD", "il", "62704-1234", "", "", "ann@example.com",
     "deliverable", "", ""],
    # B, and its duplicate by APN (punctuation variant, same state)
    ["", "555-001", "9 Elm St", "", "Town", "CA", "90210", "bob", "ray", "", "", "(415) 555-0100", "disconnected"],
    ["", "555001", "9 ELM STREET", "", "TOWN", "CA", "90210", "", "", "", "", "415-555-0111", "connected"],
    # C, and its duplicate by address only (STREET/ST, NORTH/N, APARTMENT/APT, case, punctuation, ZIP+4)
    ["", "", "77 West Oak Avenue", "Apartment 2", "Phoenix", "AZ", "85001", "cy", "day", "", "", "", ""],
    ["", "", "77 w. oak ave., apt 2", "", "phoenix", "az", "85001-1234", "", "", "", "", "", ""],
    # near-misses that must stay apart from A: other house number; same building, other unit
    ["", "", "125 North Main Street", "Apartment 4B", "Springfield", "IL", "62704", "dee", "fox", "", "", "", ""],
    ["", "", "123 North Main Street", "Apartment 5", "Springfield", "IL", "62704", "eve", "gray", "", "", "", ""],
    # same APN as B but another state: another parcel
    ["", "555-001", "1 Ranch Rd", "", "Austin", "TX", "78701", "fay", "hill", "", "", "", ""],
]


def _csv(rows):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(COLS)
    w.writerows(rows)
    return buf.getvalue().encode()


def cli_upload(path, url):
    env = {**os.environ, "EC_UPLOAD_KEY": TEST_KEYS.splitlines()[0]}
    return subprocess.run([sys.executable, "-m", "orchestration", "upload", str(path), "--source", "batchdata",
                           "--url", url], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120)


def test_upload_sensor_run_leads(db, endpoint, instance, tmp_path, defs):
    path = tmp_path / "list.csv"
    path.write_bytes(_csv(ROWS))
    out = cli_upload(path, endpoint.url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert '"accepted"' in out.stdout

    result = tick_sensor(defs, instance)
    assert len(result.run_requests) == 1
    key = result.run_requests[0].partition_key
    assert result.run_requests[0].run_key == key
    assert key in instance.get_dynamic_partitions("uploads")
    assert run_ingest(defs, instance, key).success

    with psycopg.connect(db) as conn:
        leads = [tuple(opened(dict(zip(("property_address", "property_city", "property_state", "property_zip",
                                        "mak", "apn", "first_name", "email", "email_verified", "phone",
                                        "phone_verified"), r))).values())
                 for r in conn.execute("SELECT property_address, property_city, property_state, property_zip, mak, "
                                       "apn, first_name, email, email_verified, phone, phone_verified FROM leads "
                                       "ORDER BY property_state, property_address").fetchall()]
    addresses = [(r[0], r[2]) for r in leads]
    assert addresses == [
        ("77 W OAK AVE APT 2", "AZ"),
        ("9 ELM ST", "CA"),
        ("123 N MAIN ST APT 4B", "IL"),
        ("123 N MAIN ST APT 5", "IL"),
        ("125 N MAIN ST APT 4B", "IL"),
        ("1 RANCH RD", "TX"),
    ]
    by_addr = {r[0]: r for r in leads}
    a = by_addr["123 N MAIN ST APT 4B"]
    assert a[4] == "M1" and a[6] == "Ann" and a[7] == "ann@example.com" and a[8] is True  # merged in-file
    b = by_addr["9 ELM ST"]
    assert b[5] == "555001" and b[9] == "+14155550111" and b[10] is True  # verified phone beats unverified
    assert by_addr["1 RANCH RD"][5] == "555001"  # same APN, other state: its own lead
    assert by_addr["77 W OAK AVE APT 2"][3] == "85001"

    # Sensor again: nothing new, no second run for the same upload.
    again = tick_sensor(defs, instance, result.cursor)
    assert not again.run_requests


def test_same_partition_twice_leaves_leads_identical(db, endpoint, instance, tmp_path, defs):
    path = tmp_path / "list.csv"
    path.write_bytes(_csv(ROWS))
    assert cli_upload(path, endpoint.url).returncode == 0
    key = tick_sensor(defs, instance).run_requests[0].partition_key
    assert run_ingest(defs, instance, key).success
    first = leads_checksum(db)
    with psycopg.connect(db) as conn:
        staged_before = conn.execute("SELECT count(*) FROM leads_staging").fetchone()[0]
    # nothing it depends on changed: every stage sees that and skips its work, saying so
    again = run_ingest(defs, instance, key)
    assert again.success
    assert leads_checksum(db) == first
    skipped = {m.asset_key.path[-1]: m.metadata for m in again.get_asset_materialization_events()
               and [e.event_specific_data.materialization for e in again.get_asset_materialization_events()]}
    assert set(skipped) >= {"leads_staging", "leads_validated", "leads"}
    assert all("unchanged since its last merge" in md["skipped"].value for md in
               (skipped[k] for k in ("leads_staging", "leads_validated", "leads")))
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM leads_staging").fetchone()[0] == staged_before
        assert conn.execute("SELECT array_agg(stage ORDER BY id) FROM pipeline_events"
                            " WHERE event_type = 'rerun_skipped'").fetchone()[0] == [
            "leads_staging", "leads_validated", "leads"]
    # forced through every stage, the merge finds every row unchanged and writes nothing
    assert run_ingest(defs, instance, key, reprocess=True).success
    assert leads_checksum(db) == first
    with psycopg.connect(db) as conn:
        merged = conn.execute("SELECT details FROM pipeline_events WHERE event_type = 'merged' "
                              "ORDER BY id DESC LIMIT 1").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM pipeline_events WHERE event_type = 'rerun_skipped'"
                            ).fetchone()[0] == 3
    assert merged["inserted"] == 0 and merged["updated"] == 0 and merged["unchanged"] == 6


def test_upload_without_a_listening_server_is_one_clear_line(tmp_path):
    from orchestration.runs.local_runs import free_port

    path = tmp_path / "list.csv"
    path.write_bytes(_csv(ROWS[:1]))
    out = cli_upload(path, f"http://127.0.0.1:{free_port()}")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "is `equity serve` running" in out.stderr
    assert "Traceback" not in out.stderr
