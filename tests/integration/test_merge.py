"""The set-based merge: safe-merge rules, the key cascade and its conflicts, broker assignment."""

import time
import uuid

import psycopg
import pytest

from orchestration.ingest import pipeline
from tests.support import merges
from tests.support.merges import COLS, ingest, land_and_validate, lead


def test_safe_merge_never_loses_known_values(db):
    ingest(db, ["M1,,1 Main St,Town,CA,90210,Ann,70,ann@example.com,deliverable,(415) 555-0100,connected,,"])
    before = lead(db)[0]
    counts = ingest(db, ["M1,,1 MAIN STREET,TOWN,CA,90210,,,other@example.com,risky,(415) 555-0111,disconnected,,"])
    assert counts == {**counts, "inserted": 0, "updated": 1}
    after = lead(db)[0]
    assert after["id"] == before["id"]
    assert after["first_name"] == "Ann" and after["age"] == 70                # NULL never erases
    assert after["email"] == "ann@example.com" and after["email_verified"]    # verified beats unverified
    assert after["phone"] == "+14155550100" and after["phone_verified"]
    assert after["email_verification_codes"] == ["deliverable", "risky"]     # union, sorted, no duplicates
    assert after["phone_verification_codes"] == ["connected", "disconnected"]
    assert len(after["melissa_payload"]["phones"]) == 1                      # jsonb ||: newest payload keys
    assert after["last_seen_at"] >= before["last_seen_at"]


def test_booleans_only_turn_true(db):
    ingest(db, ["M2,,2 Main St,Town,CA,90210,Bo,,bo@example.com,risky,,,,"])
    assert lead(db)[0]["email_verified"] is False
    ingest(db, ["M2,,2 Main St,Town,CA,90210,,,bo@example.com,deliverable,,,,"])
    assert lead(db)[0]["email_verified"] is True
    ingest(db, ["M2,,2 Main St,Town,CA,90210,,,bo@example.com,undeliverable,,,,"])
    assert lead(db)[0]["email_verified"] is True


def test_cascade_earlier_key_wins_and_conflict_is_recorded(db):
    ingest(db, ["M3,,3 Main St,Town,CA,90210,Cy,,,,,,,",
                ",APN9,9 Oak St,Town,CA,90210,Di,,,,,,,"])
    ids = {r["mak"] or r["apn"]: r["id"] for r in lead(db)}
    # MAK says lead M3; the address says the Oak St lead: MAK wins, the address hash is not copied.
    counts = ingest(db, ["M3,,9 Oak Street,Town,CA,90210,Cyrus,,,,,,,"])
    assert counts["inserted"] == 0 and counts["conflicts"] == 1
    m3 = lead(db, f"id = '{ids['M3']}'")[0]
    assert m3["first_name"] == "Cyrus" and m3["property_address"] == "3 MAIN ST"
    with psycopg.connect(db) as conn:
        ev = conn.execute("SELECT lead_id, details FROM pipeline_events WHERE event_type = 'dedupe_conflict'").fetchone()
    assert ev[0] == ids["M3"] and ev[1]["key"] == "addr_hash" and ev[1]["other_lead_id"] == str(ids["APN9"])
    assert len(lead(db)) == 2


def test_new_leads_get_a_broker_by_territory_and_license(db):
    with psycopg.connect(db) as conn:
        b = uuid.uuid4()
        conn.execute("INSERT INTO brokers (id, company_name, license_states, territory_zip_codes) VALUES "
                     "(%s, 'West', '{CA}', '{90210}'), (gen_random_uuid(), 'Paused', '{CA}', '{90211}')", (b,))
        conn.execute("UPDATE brokers SET status = 'paused' WHERE company_name = 'Paused'")
    ingest(db, ["M4,,4 Main St,Town,CA,90210,,,,,,,,", "M5,,5 Main St,Town,CA,90211,,,,,,,,",
                "M6,,6 Main St,Town,NV,90210,,,,,,,,"])
    brokers = {r["mak"]: r["assigned_broker_id"] for r in lead(db)}
    assert brokers == {"M4": b, "M5": None, "M6": None}


def test_in_file_conflict_keeps_both_and_drops_the_clashing_key(db):
    counts = ingest(db, ["MA,,7 Main St,Town,CA,90210,,,,,,,,", "MB,,7 Main St,Town,CA,90210,,,,,,,,"])
    assert counts["inserted"] == 2
    rows = sorted(lead(db), key=lambda r: r["mak"])
    assert rows[0]["addr_hash"] is not None and rows[1]["addr_hash"] is None


def test_a_merge_killed_midway_leaves_nothing_behind(db):
    """The merge is one transaction: a run killed while it waits mid-merge changes nothing."""
    import threading
    import time

    ingest(db, ["M1,,1 Main St,Town,CA,90210,Ann,,,,,,,"])
    before = lead(db)
    # Stage and validate a second upload, but merge it by hand so it can be killed mid-way.
    ctx, uid = land_and_validate(
        db, (COLS + "M1,,1 Main St,Town,CA,90210,Annie,,,,,,,\nM9,,9 Main St,Town,CA,90210,Nine,,,,,,,\n").encode())
    errors = []
    with psycopg.connect(db) as blocker:
        blocker.execute("SELECT 1 FROM leads WHERE mak = 'M1' FOR UPDATE")  # the merge's UPDATE waits here

        def run():
            try:
                pipeline.merge(ctx, uid)
            except Exception as exc:  # noqa: BLE001 - the kill surfaces as a connection error
                errors.append(exc)

        t = threading.Thread(target=run)
        t.start()
        with psycopg.connect(db, autocommit=True) as admin:
            pid = None
            for _ in range(100):
                # this database's merge only: another xdist worker's merge may be waiting too
                row = admin.execute("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                    "AND datname = current_database() "
                                    "AND query LIKE '%%merge_validated_leads%%'").fetchone()
                if row:
                    pid = row[0]
                    break
                time.sleep(0.1)
            assert pid is not None, "the merge never reached the locked row"
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        t.join(timeout=30)
        blocker.rollback()
    assert errors, "the killed merge should have failed"
    after = lead(db)
    assert [(r["id"], r["first_name"], r["updated_at"]) for r in after] == \
        [(r["id"], r["first_name"], r["updated_at"]) for r in before]
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM pipeline_events WHERE event_type = 'merged' "
                            "AND upload_id = %s", (uid,)).fetchone()[0] == 0
    # The upload is still staged and validated: re-running the merge completes it.
    assert pipeline.merge(ctx, uid).counts["inserted"] == 1
    assert {r["first_name"] for r in lead(db)} == {"Annie", "Nine"}


def test_in_file_group_collapses_safely_and_a_litigator_anywhere_means_no_phone(db):
    """Three rows of one property (same MAK): the collapsed row keeps the latest non-NULL values, the
    verified channel, every code; one row says Litigator, so the lead has no phone at all."""
    cols = merges.COLS     # the header the support module's ingest() writes
    merges.COLS = cols.rstrip("\n") + ",litigator\n"
    try:
        counts = ingest(db, [
            "MG,,8 Main St,Town,CA,90210,Gus,71,gus@example.com,deliverable,(415) 555-0120,connected,,,",
            "MG,,8 Main St,Town,CA,90210,,,gus2@example.com,risky,,,,,Yes",
            "MG,,8 Main Street,Town,CA,90210,Gustav,,,,(415) 555-0121,disconnected,,,",
        ])
    finally:
        merges.COLS = cols
    assert counts["inserted"] == 1
    row = lead(db)[0]
    assert row["first_name"] == "Gustav" and row["age"] == 71
    assert row["email"] == "gus@example.com" and row["email_verified"]
    assert row["email_verification_codes"] == ["deliverable", "risky"]
    assert row["phone"] is None and row["phone_verified"] is False and row["phone_verification_codes"] == []
    assert row["melissa_payload"]["litigator"] is True


def test_insert_falls_back_when_a_key_appears_after_the_match(db):
    """The unmatched rows go in with a plain INSERT; if one of their keys exists by then (another
    writer), the merge keeps the other writer's lead, inserts the rest and counts the one left out."""
    ctx, uid = land_and_validate(
        db, (COLS + "MX,,1 Elm St,Town,CA,90210,Xa,,,,,,,\nMY,,2 Elm St,Town,CA,90210,Ya,,,,,,,\n").encode())
    # Two validated rows now claim one MAK (as if a concurrent writer had taken MY's key for MX):
    # no lead matches either, so both reach the INSERT, and the second violates leads_mak_key.
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE leads_validated SET mak = 'MX' WHERE upload_id = %s AND mak = 'MY'", (uid,))
    counts = pipeline.merge(ctx, uid).counts
    assert counts["inserted"] == 1 and counts["not_inserted"] == 1
    assert [r["mak"] for r in lead(db)] == ["MX"]


def test_pipeline_role_can_refresh_statistics_of_its_tables_only(db):
    with psycopg.connect(db) as conn:
        conn.execute("SET ROLE pipeline_writer")
        assert conn.execute("SELECT analyze_pipeline_table('leads')").fetchone()[0] is True
        assert conn.execute("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
                            "WHERE relname = 'leads'").fetchone()[0]
        # Fresh statistics: nothing to do when asked only if stale.
        assert conn.execute("SELECT analyze_pipeline_table('leads', true)").fetchone()[0] is False
        try:
            conn.execute("SELECT analyze_pipeline_table('pipeline_events')")
            raise AssertionError("analyze_pipeline_table accepted a table it does not maintain")
        except psycopg.errors.RaiseException as exc:
            assert "not a table this helper maintains" in str(exc)


def test_a_merge_waits_for_another_merges_lock_but_not_forever(db):
    """A session holding the merge's job lock (a stuck run) makes the merge fail after its lock
    timeout as a transient failure, recorded for the retry policy; once free, it merges."""
    ctx, uid = land_and_validate(db, (COLS + "M9,,9 Lock St,Town,CA,90210,Lu,70,,,,,,\n").encode())
    ctx.lock_timeout_s = 0.5
    with psycopg.connect(db, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(job_lock_key('merge_leads'))")
        t = time.monotonic()
        with pytest.raises(pipeline.StageFailed, match="LockNotAvailable"):
            pipeline.merge(ctx, uid)
        assert time.monotonic() - t < 20
    with psycopg.connect(db) as conn:
        dlq = conn.execute("SELECT payload->>'transient', payload->>'status', retry_after IS NOT NULL"
                           " FROM pipeline_dlq WHERE payload->>'upload_id' = %s", (uid,)).fetchone()
    assert dlq == ("true", "retrying", True)
    assert pipeline.merge(ctx, uid).counts["inserted"] == 1
