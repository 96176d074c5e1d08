"""The suppression list from the operator's side and from the vendors' flags: Do-Not-Call files
import set-based and take the phones out of exports; a vendor DNC or Litigator flag becomes a
suppression no later upload can lift; operators add, list and (only where allowed) remove."""

from __future__ import annotations

import json
import csv
import random

import psycopg
import pytest

from orchestration import cli
from orchestration.privacy import suppression
from orchestration.privacy import pii
from tests.support import hostile
from tests.support.stack import leads_checksum, refresh_view, run_ingest, run_job, scalar
from tests.support.feeds import FRIDAY, feed_meta, seed
from tests.support.uploads import ingest


def test_phone_lines_of_a_registry_file():
    assert suppression.phone_from_line("8135550142\n") == "+18135550142"
    assert suppression.phone_from_line("1-813-555-0142") == "+18135550142"
    assert suppression.phone_from_line("(813) 555 0142") == "+18135550142"
    for bad in ("", "555-0142", "08135550142", "0135550142", "1135550142", "81355501421", "phone", "22813555014"):
        assert suppression.phone_from_line(bad) is None, bad


def test_a_dnc_file_is_imported_and_its_phones_leave_the_export(db, instance, defs, monkeypatch, tmp_path):
    seed(db, 20)
    sealer = pii.environment_sealer()
    with psycopg.connect(db, autocommit=True) as conn:
        for lead_id, name in conn.execute("SELECT id, first_name FROM leads").fetchall():
            conn.execute("UPDATE leads SET phone = %s, phone_verified = true WHERE id = %s",
                         (sealer.seal("phone", f"+1813555{int(name[4:]):04d}"), lead_id))
    listed = [f"813555{i:04d}" for i in range(1, 21, 2)]            # the odd leads' phones
    rng = random.Random(5)
    noise = [f"{rng.randrange(201, 990)}{rng.randrange(200, 1000)}{rng.randrange(10000):04d}" for _ in range(5000)]
    path = tmp_path / "dnc.txt"
    path.write_text("\n".join(listed + noise + ["not a number", "12345", ""]) + "\n")
    monkeypatch.setenv("EC_WAREHOUSE_DB", psycopg.conninfo.conninfo_to_dict(db)["dbname"])
    assert cli.main(["suppress", "import", str(path), "--reason", "dnc_federal"]) == 0
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM suppressions WHERE reason = 'dnc_federal'").fetchone()[0] == \
            len(set(listed + noise))
        assert conn.execute("SELECT count(*) FROM leads WHERE phone_verified").fetchone()[0] == 10
        event = conn.execute("SELECT details FROM pipeline_events WHERE event_type = 'suppressions_imported'").fetchone()[0]
    assert event["not_numbers"] == 2 and event["leads_unverified"] == 10
    assert cli.main(["suppress", "import", str(path), "--reason", "dnc_federal"]) == 0    # idempotent
    assert scalar(db, "SELECT count(*) FROM suppressions") == len(set(listed + noise))
    # DNC bars calls only: every lead is still e-mailed, the listed phones are not exported
    refresh_view(db, defs, instance)
    meta = feed_meta(run_job(defs, instance, "campaign_feed_job", FRIDAY))
    with open(meta["export"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 20 and meta["phones_withheld"] == 10
    exported = {r["phone"] for r in rows if r["phone"]}
    assert len(exported) == 10 and not exported & {"+1" + n for n in listed}


def test_operators_add_list_and_remove_only_what_may_be_removed(db, monkeypatch, capsys):
    monkeypatch.setenv("EC_WAREHOUSE_DB", psycopg.conninfo.conninfo_to_dict(db)["dbname"])
    assert cli.main(["suppress", "add", "--email", " Ann@Example.COM ", "--reason", "unsubscribe"]) == 0
    assert cli.main(["suppress", "add", "--phone", "(813) 555-0142", "--reason", "dnc_internal"]) == 0
    blind = pii.environment_sealer().blind          # stored as blind indexes, never as values
    assert scalar(db, "SELECT array_agg(value ORDER BY value) FROM suppressions") == sorted(
        [blind("phone", "+18135550142"), blind("email", "ann@example.com")])
    assert cli.main(["suppress", "remove", "--email", "ann@example.com", "--reason", "unsubscribe"]) == 2
    assert "cannot be removed" in capsys.readouterr().err
    assert cli.main(["suppress", "remove", "--phone", "8135550142", "--reason", "dnc_internal"]) == 0
    assert cli.main(["suppress", "add", "--email", "not-an-email", "--reason", "bounce"]) == 2
    assert "not a valid email" in capsys.readouterr().err
    assert cli.main(["suppress", "list"]) == 0
    out = capsys.readouterr().out
    assert "email    unsubscribe" in out and blind("email", "ann@example.com") in out
    assert blind("phone", "+18135550142") not in out and "ann@example.com" not in out
    assert cli.main(["suppress", "list", "--json", "--channel", "email"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"channel": "email", "reason": "unsubscribe", "entries": 1} in doc["counts"]
    assert [(e["channel"], e["value"], e["reason"]) for e in doc["newest"]] == [
        ("email", blind("email", "ann@example.com"), "unsubscribe")]
    with psycopg.connect(db) as conn:
        kinds = [r[0] for r in conn.execute("SELECT event_type FROM pipeline_events ORDER BY id")]
    assert kinds == ["suppression_added", "suppression_added", "suppression_removed"]


@pytest.mark.parametrize("flag", ["dnc", "litigator"])
def test_a_vendor_flag_is_a_suppression_a_later_upload_cannot_lift(db, door, instance, defs, flag):
    header = [*hostile.HEADER, "phone_status", "phone_dnc", "litigator"]
    [row] = hostile.rows_of(f"vf{flag}", 1)
    row[hostile.HEADER.index("phone")] = "(813) 555-0199"
    ingest(db, door, instance, defs, hostile.to_csv([[*row, "connected", "No", "No"]], header=header).encode())
    assert scalar(db, "SELECT phone_verified FROM leads") is True
    flagged = [[*row, "connected", "Yes" if flag == "dnc" else "No", "Yes" if flag == "litigator" else "No"]]
    flagged_upload, result = ingest(db, door, instance, defs, hostile.to_csv(flagged, header=header).encode())
    merged = {k: v.value for k, v in result.asset_materializations_for_node("leads")[0].metadata.items()}
    assert merged["phones_unverified"] == 1
    before = leads_checksum(db)                # re-running the upload in full changes nothing
    rerun = run_ingest(defs, instance, flagged_upload, reprocess=True)
    assert leads_checksum(db) == before
    again_meta = {k: v.value for k, v in rerun.asset_materializations_for_node("leads")[0].metadata.items()}
    assert again_meta["updated"] == 0 and again_meta["phones_unverified"] == 0
    assert merged["suppressions_added"] == (1 if flag == "dnc" else 2)
    with psycopg.connect(db) as conn:
        reasons = {tuple(r) for r in conn.execute("SELECT channel, reason FROM suppressions")}
    assert reasons == ({("phone", "dnc_federal")} if flag == "dnc" else {("phone", "litigator"), ("address", "litigator")})
    assert scalar(db, "SELECT phone_verified FROM leads") is False
    # the vendor's next list no longer flags it: the suppression stays, the phone stays unverified
    again = [[*row, "connected", "No", "No"]]
    ingest(db, door, instance, defs, hostile.to_csv(again, header=header).encode() + b"\n")
    assert scalar(db, "SELECT phone_verified FROM leads") is False
    assert scalar(db, "SELECT count(*) FROM suppressions") == len(reasons)
    if flag == "litigator":     # the person and the property are never contacted again
        assert scalar(db, "SELECT lead_is_suppressed(pii_index(email), pii_index(phone), addr_hash) FROM leads") is True


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def test_a_hashed_deletion_list_matches_existing_and_future_leads(db, door, instance, defs, monkeypatch, capsys,
                                                                 tmp_path):
    seed(db, 6)                                            # lead1..lead6@example.com
    sealer = pii.environment_sealer()
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE leads SET phone = %s WHERE first_name = 'Lead2'", (sealer.seal("phone", "+18135550102"),))
    path = tmp_path / "drop_2026-12.csv"
    # the state's list: a header, the kind in either place, upper-case hex, a 10-digit phone hash,
    # a hash of a person who is not held (yet), noise
    path.write_text("\n".join([
        "type,sha256",
        f"email,{_sha('lead1@example.com').upper()}",
        f"{_sha('8135550102')},phone",
        _sha("future.person@example.com"),
        _sha("nobody@example.com"),
        "not a hash", "", "# comment",
    ]) + "\n")
    monkeypatch.setenv("EC_WAREHOUSE_DB", psycopg.conninfo.conninfo_to_dict(db)["dbname"])
    capsys.readouterr()
    assert cli.main(["suppress", "import", str(path), "--hashed", "sha256"]) == 0
    out = capsys.readouterr().out
    assert "4 SHA-256 hashes" in out and "1 not hashes" in out and "2 matched" in out and "2 leads" in out, out
    with psycopg.connect(db) as conn:
        entries = conn.execute("SELECT channel, value FROM suppressions WHERE reason = 'deletion_request'"
                               " ORDER BY 1").fetchall()
        event = conn.execute("SELECT details FROM pipeline_events WHERE event_type = 'deletion_list_imported'").fetchone()[0]
        opened = conn.execute("SELECT details FROM pipeline_events WHERE event_type = 'pii_decrypted'").fetchone()[0]
    assert entries == [("email", sealer.blind("email", "lead1@example.com")),
                       ("phone", sealer.blind("phone", "+18135550102"))]
    assert event["hashes_added"] == 4 and event["values_matched"] == 2 and event["leads_matched"] == 2
    assert opened["purpose"] == "match hashed deletion requests" and opened["values"] == 7      # 6 e-mails + 1 phone
    # idempotent: the same file again adds nothing
    assert cli.main(["suppress", "import", str(path), "--hashed", "sha256"]) == 0
    assert scalar(db, "SELECT count(*) FROM deletion_requests") == 4
    assert scalar(db, "SELECT count(*) FROM suppressions WHERE reason = 'deletion_request'") == 2
    # neither person may be contacted (the rule the view and the feeder's pick apply)
    with psycopg.connect(db) as conn:
        barred = {sealer.open("email", r[0]) for r in conn.execute(
            "SELECT email FROM leads WHERE lead_is_suppressed(pii_index(email), pii_index(phone), addr_hash)")}
    assert barred == {"lead1@example.com", "lead2@example.com"}
    # a later upload naming the future person (any capitalisation) is matched before its merge
    rows = [["7 Future St", "Springfield", "IL", "62704", "Fu", "Ture", " Future.Person@Example.com", ""],
            ["8 Other St", "Springfield", "IL", "62704", "Ot", "Her", "other.person@example.com", ""]]
    uid, result = ingest(db, door, instance, defs, hostile.to_csv(rows).encode())
    assert result.success
    with psycopg.connect(db) as conn:
        merged = conn.execute("SELECT details FROM pipeline_events WHERE event_type = 'merged' AND upload_id = %s",
                              (uid,)).fetchone()[0]
        future = conn.execute("SELECT lead_is_suppressed(pii_index(email), pii_index(phone), addr_hash) FROM leads"
                              " WHERE property_address = '7 FUTURE ST'").fetchone()[0]
        other = conn.execute("SELECT lead_is_suppressed(pii_index(email), pii_index(phone), addr_hash) FROM leads"
                             " WHERE property_address = '8 OTHER ST'").fetchone()[0]
    assert merged["deletion_requests_matched"] == 1 and (future, other) == (True, False)


def test_a_hashed_list_without_hashes_is_refused_with_a_reason(db, monkeypatch, capsys, tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("jane@example.com\n2085550100\n")
    monkeypatch.setenv("EC_WAREHOUSE_DB", psycopg.conninfo.conninfo_to_dict(db)["dbname"])
    capsys.readouterr()
    assert cli.main(["suppress", "import", str(path), "--hashed", "sha256"]) == 2
    assert "no SHA-256 hash" in capsys.readouterr().err
    assert cli.main(["suppress", "import", str(path)]) == 2       # neither --reason nor --hashed
    assert "--reason" in capsys.readouterr().err
    assert scalar(db, "SELECT count(*) FROM deletion_requests") == 0


def test_a_merge_without_the_data_keys_refuses_once_deletion_requests_are_held(db):
    from orchestration.ingest import pipeline
    from tests.support.merges import COLS, land_and_validate

    ctx, uid = land_and_validate(db, (COLS + "M1,,1 Main St,Town,CA,90210,Ann,70,,,,,,\n").encode())
    ctx.sealer = None                                               # the key files went missing since
    ctx.keep_work_rows_hours = 1                                    # (so the merge can run twice)
    assert pipeline.merge(ctx, uid).counts["deletion_requests_matched"] == 0    # none held: no key needed
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO deletion_requests (channel, sha256, source) VALUES ('any', %s, 't')", ("a" * 64,))
    with pytest.raises(pipeline.StageFailed, match="hashed deletion requests are held"):
        pipeline.merge(ctx, uid)
