"""Bad files get a clear error or per-row rejects, never a bare crash, and lose nothing valid."""

import dataclasses
import os
from datetime import UTC, datetime

import psycopg
import pytest

from orchestration.ingest import pipeline, signing
from orchestration.core.landing import Landing
from orchestration.ingest.receipt import Receiver
from orchestration.privacy import pii
from tests.support.stack import ACTIVE_KEYS, run_ingest, scalar, signing_key

HEADER = "address,city,state,zip,first_name,email\n"


def land(db, body: bytes, source="generic") -> str:
    receiver = Receiver(Landing(os.environ["EC_LANDING_DIR"]), signing.parse_keys(ACTIVE_KEYS), db)
    r = receiver.start(signing.sign(body, source=source, key=signing_key()), received_at=datetime.now(UTC))
    r.feed(body)
    outcome = r.finish()
    assert outcome.accepted, outcome
    return outcome.upload_id


def ctx(db):
    return pipeline.Context(database_url=db, landing=Landing(os.environ["EC_LANDING_DIR"]), log=lambda m: None,
                            sealer=pii.environment_sealer())


@pytest.mark.parametrize("body,needle", [
    (b"   \n", "empty"),
    (HEADER.encode(), "header but no data rows"),
    (b"address;city;state;zip\n1 Main St;Town;CA;90210\n", "does not look comma-separated"),
    (b"city,state,zip\nTown,CA,90210\n", "missing required column(s) for the generic profile: no column "
                                          "identifies the property; it needs property_address"),
    (b"address,city,state,zip\n\x81\x8d\x8f,Town,CA,90210\n", "neither UTF-8 nor Windows-1252"),
])
def test_file_level_refusals_are_clear_and_recorded(db, body, needle):
    uid = land(db, body)
    with pytest.raises(pipeline.StageFailed) as exc:
        pipeline.stage(ctx(db), uid)
    assert needle in str(exc.value)
    assert scalar(db, "SELECT count(*) FROM pipeline_dlq WHERE source = 'leads_staging' "
                      "AND payload->>'upload_id' = %s", (uid,)) == 1
    assert scalar(db, "SELECT count(*) FROM pipeline_events WHERE event_type = 'upload_failed' "
                      "AND upload_id = %s", (uid,)) == 1
    assert scalar(db, "SELECT count(*) FROM leads_staging") == 0


def test_windows_1252_file_is_read(db):
    uid = land(db, (HEADER + "1 Main St,Town,CA,90210,Jos\xe9,\n").encode("cp1252"))
    r = pipeline.stage(ctx(db), uid)
    assert r.details["encoding"] == "windows-1252"
    assert scalar(db, "SELECT first_name FROM leads_staging WHERE upload_id = %s", (uid,)) == "José"


def test_bom_quoted_newlines_wide_row_and_formula_cells(db):
    wide = ",".join(["x"] * 5000)
    body = ("\ufeff" + HEADER
            + '"1 Main St",Springfield,IL,62704,"=cmd|\' /C calc\'!A0",a@example.com\n'
            + '"2 Main St\nRear",Springfield,IL,62704,Bo,\n'
            + wide + "\n"
            + "3 Main St,Springfield,IL,62704,@SUM(A1),\n").encode()
    uid = land(db, body)
    r = pipeline.stage(ctx(db), uid)
    assert r.counts["rows"] == 3 and r.counts["malformed_rows"] == 1
    with psycopg.connect(db) as conn:
        names = [x[0] for x in conn.execute("SELECT first_name FROM leads_staging WHERE upload_id = %s "
                                            "ORDER BY row_number", (uid,))]
        addr2 = conn.execute("SELECT property_address FROM leads_staging WHERE upload_id = %s "
                             "AND row_number = 2", (uid,)).fetchone()[0]
        reason, record = conn.execute("SELECT reason, payload->>'record' FROM pipeline_dlq "
                                      "WHERE source = 'leads_staging'").fetchone()
    wide_dlq = (reason, len(pii.environment_sealer().open_record(record)))     # quoted sealed, cut short
    assert names[0] == "=cmd|' /C calc'!A0" and names[2] == "@SUM(A1)"  # kept verbatim, as inert text
    assert addr2 == "2 Main St\nRear"
    assert wide_dlq[0] == "the record has 5000 fields, the header has 6" and wide_dlq[1] <= 500
    v = pipeline.validate_upload(ctx(db), uid)
    assert v.counts["valid"] == 3


def test_row_rejects_go_to_dlq_with_every_failed_check_and_valid_rows_survive(db):
    body = (HEADER + "1 Main St,Town,CA,90210,Al,\n"
            + ",Town,ZZ,1,Bad,\n"
            + "2 Main St,Town,CA,90210,Cy,not-an-email\n").encode()
    uid = land(db, body)
    pipeline.stage(ctx(db), uid)
    c = ctx(db)
    c.max_reject_rate = 0.5
    r = pipeline.validate_upload(c, uid)
    assert r.counts["valid"] == 2 and r.counts["rejected"] == 1 and r.counts["invalid_emails"] == 1
    with psycopg.connect(db) as conn:
        payload = conn.execute("SELECT payload FROM pipeline_dlq WHERE source = 'leads_validated'").fetchone()[0]
    assert payload["row_number"] == 2
    from orchestration.ingest.schemas import CHECK_MESSAGES
    assert set(payload["reasons"]) == {CHECK_MESSAGES[None, "identifies_property"],
                                       "state is not a US state or territory code",
                                       "ZIP is not 5 digits (ZIP+4 is fine)"}
    # Re-running replaces this upload's DLQ items instead of piling them up.
    pipeline.validate_upload(c, uid)
    assert scalar(db, "SELECT count(*) FROM pipeline_dlq WHERE source = 'leads_validated'") == 1


def test_reject_rate_over_threshold_fails_the_blocking_check_naming_top_reasons(db, instance, defs):
    body = (HEADER + "1 Main St,Town,CA,90210,Al,\n" + ",Town,ZZ,1,Bad,\n" * 3).encode()
    uid = land(db, body)
    instance.add_dynamic_partitions("uploads", [uid])
    result = run_ingest(defs, instance, uid, raise_on_error=False)
    assert not result.success
    # leads_validated materialised with its true counts; the blocking check failed; leads never ran.
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    gate = checks["reject_rate"]
    assert not gate.passed and gate.severity.value == "ERROR"
    assert "75% of rows were rejected" in gate.description and "street address is missing" in gate.description
    assert gate.metadata["reject_rate"].value == 0.75
    materialised = {m.asset_key.path[-1] for m in result.asset_materializations_for_node("leads_validated")}
    assert materialised == {"leads_validated"}
    assert not result.asset_materializations_for_node("leads")
    assert "records_reconcile" not in checks
    from orchestration.runs import launch
    assert launch.failure_message(instance, result.run_id).startswith("check reject_rate failed: 75% of rows")
    assert scalar(db, "SELECT count(*) FROM leads") == 0
    # Materialising `leads` on its own afterwards does not merge the refused upload's good row.
    from dagster import AssetKey

    alone = defs.resolve_job_def("ingest_upload").execute_in_process(
        instance=instance, partition_key=uid, asset_selection=[AssetKey("leads")], raise_on_error=False)
    assert not alone.success
    failure = [e for e in alone.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert "was refused at validation" in failure.event_specific_data.error.to_string()
    assert scalar(db, "SELECT count(*) FROM leads") == 0
    # the three rejected rows and the refusal of the file stay in the DLQ
    assert scalar(db, "SELECT count(*) FROM pipeline_dlq WHERE source = 'leads_validated'") == 4


def test_reject_rate_check_passes_under_the_limit_and_a_rerun_with_a_higher_limit_merges(db, instance, defs,
                                                                                        monkeypatch):
    body = (HEADER + "1 Main St,Town,CA,90210,Al,\n" + "2 Main St,Town,CA,90210,Bo,\n"
            + ",Town,ZZ,1,Bad,\n").encode()
    uid = land(db, body)
    instance.add_dynamic_partitions("uploads", [uid])
    refused = run_ingest(defs, instance, uid, raise_on_error=False)   # 33% > the default 20%
    assert not refused.success and scalar(db, "SELECT count(*) FROM leads") == 0
    monkeypatch.setenv("EC_MAX_REJECT_PERCENT", "50")   # the operator raises the limit and re-runs
    loose = run_ingest(defs, instance, uid, raise_on_error=False)
    assert loose.success
    gate = {c.check_name: c for c in loose.get_asset_check_evaluations()}["reject_rate"]
    assert gate.passed and gate.description == "1 of 3 rows rejected (33%; limit 50%)"
    assert scalar(db, "SELECT count(*) FROM leads") == 2


def test_slice_size_changes_nothing(db):
    """Validation streams in slices; slices of 7 rows must give the rows and counts of one slice,
    including in-file duplicates whose members fall into different slices."""
    body = (HEADER + "".join(f"{i % 40} Main St,Town,CA,90210,N{i},{'bad' if i % 3 else f'x{i}@example.com'}\n"
                             for i in range(1, 60))).encode()
    uid = land(db, body)
    pipeline.stage(ctx(db), uid)
    # (each seal of a value differs: rows compare with their tokens reduced to the blind index)
    snapshot = ("SELECT md5(string_agg(regexp_replace(v::text, 'enc1[.]([0-9a-f]{32})[.][^.]+[.][A-Za-z0-9_=-]+',"
                " '\\1', 'g'), '|' ORDER BY row_number)) FROM leads_validated v WHERE upload_id = %s")
    one = pipeline.validate_upload(ctx(db), uid, slice_rows=10_000)
    rows_one = scalar(db, snapshot, (uid,))
    many = pipeline.validate_upload(ctx(db), uid, slice_rows=7)
    assert one.counts == many.counts
    assert one.counts["invalid_emails"] == 40 and one.counts["in_file_duplicates"] == 19
    assert scalar(db, snapshot, (uid,)) == rows_one
    # ... and so do slices validated side by side in worker processes (a large upload's way)
    parallel = dataclasses.replace(ctx(db), validation_workers=2)
    side_by_side = pipeline.validate_upload(parallel, uid, slice_rows=7)
    assert one.counts["sealing_worker_peak_rss_mb"] == 0                 # a small upload seals here
    assert side_by_side.counts == {**one.counts, "validation_workers": 2,
                                   "worker_peak_rss_mb": side_by_side.counts["worker_peak_rss_mb"]}
    assert side_by_side.counts["worker_peak_rss_mb"] > 0
    assert scalar(db, snapshot, (uid,)) == rows_one
    # ... and so do e-mails and phones sealed in a sealing worker process (an upload of at least
    # sealing_worker_rows rows): the very same tokens, not only the same blind indexes
    exact = ("SELECT md5(string_agg(v::text, '|' ORDER BY row_number)) FROM leads_validated v"
             " WHERE upload_id = %s")
    pipeline.validate_upload(dataclasses.replace(ctx(db), sealing_worker_rows=0), uid, slice_rows=7)
    sealed_here = scalar(db, exact, (uid,))
    elsewhere = pipeline.validate_upload(dataclasses.replace(ctx(db), sealing_worker_rows=1), uid, slice_rows=7)
    assert elsewhere.counts == {**one.counts, "sealing_worker_peak_rss_mb": elsewhere.counts["sealing_worker_peak_rss_mb"]}
    assert 0 < elsewhere.counts["sealing_worker_peak_rss_mb"] < 200
    assert scalar(db, exact, (uid,)) == sealed_here
    assert scalar(db, "SELECT count(*) FROM leads_validated WHERE upload_id = %s AND email LIKE 'enc1.%%'",
                  (uid,)) > 0


def test_streamed_blocks_read_like_one_block(tmp_path):
    """The reader streams blocks; tiny blocks must give the same rows, numbers and rejects as one,
    including Windows-1252 text transcoded on the fly and a malformed row in a later block."""
    from orchestration.ingest.reader import open_upload

    rows = [f"{i} Main St,T\xf6wn,CA,90210,Name {i},n{i}@example.com" for i in range(1, 400)]
    rows[250] = "bad,row"
    path = tmp_path / "list.csv"
    path.write_bytes((HEADER + "\n".join(rows) + "\n").encode("cp1252"))

    def read(block_bytes):
        stream = open_upload(path, "generic", block_bytes=block_bytes)
        frames = list(stream.frames)
        return stream, frames

    whole, one = read(1 << 24)
    small, many = read(1 << 10)
    assert len(one) == 1 and len(many) > 5
    assert whole.encoding == small.encoding == "windows-1252"
    import pandas as pd

    a, b = one[0], pd.concat(many, ignore_index=True)
    assert a["row_number"].tolist() == b["row_number"].tolist() == list(range(1, 399))
    assert a.drop(columns="row_number").equals(b.drop(columns="row_number"))
    assert b["property_city"].iloc[0] == "Töwn"
    assert [r["reason"] for r in small.bad_rows] == [r["reason"] for r in whole.bad_rows] == \
        ["the record has 2 fields, the header has 6"]
