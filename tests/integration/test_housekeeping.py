"""The daily sweep, run as its job: old replay guards, expired and used consent tokens and stale
.part files go; young ones stay; the counts are recorded."""

import os
import time
from pathlib import Path

import psycopg
import pytest

from orchestration.ingest import pipeline
from orchestration.core.landing import Landing
from tests.support.stack import run_job, scalar
from tests.support.merges import COLS, land_and_validate


def test_the_sweep_removes_only_what_is_old(db, instance, defs):
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO ingest_replay_guard (content_sha256, received_at, source, upload_id)"
                     " VALUES (repeat('a', 64), now() - interval '8 days', 'generic', 'old'),"
                     "        (repeat('b', 64), now() - interval '6 days', 'generic', 'young')")
        lead = conn.execute("INSERT INTO leads (property_address) VALUES ('1 Sweep St') RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO consent_tokens (lead_id, nonce_hash, expires_at, used_at) VALUES"
                     " (%(l)s, repeat('1', 64), now() - interval '1 hour', NULL),"   # expired
                     " (%(l)s, repeat('2', 64), now() + interval '1 day', now()),"   # used
                     " (%(l)s, repeat('3', 64), now() + interval '1 day', NULL)",    # live
                     {"l": lead})
    landing = Landing(os.environ["EC_LANDING_DIR"]).ensure()
    stale, fresh = landing.tmp / "cut-off.part", landing.tmp / "streaming.part"
    stale.write_bytes(b"x" * 100)
    fresh.write_bytes(b"y" * 10)
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))

    result = run_job(defs, instance, "housekeeping_job")
    assert result.success
    with psycopg.connect(db) as conn:
        guards = [r[0] for r in conn.execute("SELECT upload_id FROM ingest_replay_guard")]
        tokens = sorted(r[0] for r in conn.execute("SELECT nonce_hash FROM consent_tokens"))
        event = conn.execute("SELECT details FROM pipeline_events WHERE event_type = 'housekeeping'").fetchone()[0]
    assert guards == ["young"] and tokens == ["3" * 64]
    assert not stale.exists() and fresh.exists()
    assert {k: event[k] for k in ("replay_guards", "consent_tokens", "part_files", "part_bytes")} == \
        {"replay_guards": 1, "consent_tokens": 2, "part_files": 1, "part_bytes": 100}
    assert event["retention"]["landed_days"] == 30
    output = next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT")
    assert output.step_output_data.metadata["part_files"].value == 1


def test_the_sweep_is_scheduled_daily_in_the_operators_time_zone(defs):
    schedule = defs.resolve_schedule_def("housekeeping_schedule")
    assert schedule.cron_schedule == "15 3 * * *" and schedule.execution_timezone == "America/Los_Angeles"


def _age(path: Path, days: float) -> Path:
    then = time.time() - days * 86400
    os.utime(path, (then, then))
    return path


def test_retention_removes_merged_work_rows_old_files_and_quoted_records(db, instance, defs):
    row = "M1,,1 Main St,Town,CA,90210,Ann,70,ann@example.com,deliverable,(415) 555-0100,connected,,\n"
    ctx, merged = land_and_validate(db, (COLS + row).encode())
    ctx.keep_work_rows_hours = 1            # kept past the merge (a debugging setting): the sweep removes them
    pipeline.merge(ctx, merged)
    _, waiting = land_and_validate(db, (COLS + row.replace("M1", "M2")).encode())   # validated, not merged
    landing = Landing(os.environ["EC_LANDING_DIR"])
    outbox = Path(os.environ["EC_OUTBOX_DIR"])
    (outbox / "2026-01-02").mkdir(parents=True, exist_ok=True)
    old_export = outbox / "2026-01-02" / "batch-1.csv"
    old_export.write_text("email\nann@example.com\n")
    _age(old_export, 31)
    young_export = outbox / "2026-01-02" / "batch-2.csv"
    young_export.write_text("email\nbob@example.com\n")
    old_landed = _age(landing.data_path(waiting), 31)
    old_record = landing.quarantine / "20250101T000000Z-00000000.json"
    old_record.write_text("{}")
    _age(old_record, 31)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO pipeline_dlq (source, payload, reason, resolved_at, created_at) VALUES"
                     " ('leads_validated', '{\"row\": {\"email\": \"r@example.com\"}, \"row_number\": 1}', 'x', now(), now()),"
                     " ('leads_validated', '{\"row\": {\"email\": \"o@example.com\"}, \"row_number\": 2}', 'x', NULL,"
                     "  now() - interval '31 days'),"
                     " ('leads_staging', '{\"text\": \"y@example.com,1 Elm\", \"line\": 3}', 'x', NULL, now())")

    result = run_job(defs, instance, "housekeeping_job")
    assert result.success
    with psycopg.connect(db) as conn:
        work = dict(conn.execute("SELECT upload_id, count(*) FROM leads_validated GROUP BY 1").fetchall())
        staged = {r[0] for r in conn.execute("SELECT DISTINCT upload_id FROM leads_staging")}
        payloads = [r[0] for r in conn.execute("SELECT payload FROM pipeline_dlq ORDER BY id")]
        event = conn.execute("SELECT details FROM pipeline_events WHERE event_type = 'housekeeping'").fetchone()[0]
    assert merged not in work and merged not in staged          # merged: its work rows went
    assert waiting in work and waiting in staged                # not merged yet: kept
    assert not old_landed.exists() and landing.manifest_path(waiting).exists()
    assert landing.data_path(merged).exists()                   # young
    assert not old_record.exists() and not old_export.exists() and young_export.exists()
    assert [("row" in p, "text" in p, "scrubbed_at" in p) for p in payloads] == \
        [(False, False, True), (False, False, True), (False, True, False)]
    assert payloads[0]["row_number"] == 1 and payloads[1]["row_number"] == 2
    assert (event["work_uploads"], event["landed_files"], event["quarantine_files"], event["outbox_files"],
            event["dlq_payloads_scrubbed"]) == (1, 1, 1, 1, 2)
    assert event["work_rows"] == 2
    # Unchanged since its merge: a re-run of the merge has nothing to do, although its work rows went.
    assert pipeline.merge(ctx, merged).counts["unchanged_upload"] == 1
    # Forced, the merge alone cannot run on rows that went; its whole partition can.
    ctx.reprocess = True
    with pytest.raises(pipeline.StageFailed, match="materialize leads_validated first"):
        pipeline.merge(ctx, merged)
    pipeline.stage(ctx, merged)
    pipeline.validate_upload(ctx, merged)
    assert pipeline.merge(ctx, merged).counts["unchanged"] == 1


def test_a_merge_removes_its_work_rows_truncating_the_tables_when_no_other_upload_is_at_work(db):
    row = "M1,,1 Main St,Town,CA,90210,Ann,70,ann@example.com,deliverable,(415) 555-0100,connected,,\n"
    ctx, first = land_and_validate(db, (COLS + row).encode())
    counts = pipeline.merge(ctx, first).counts
    assert (counts["work_rows_removed"], counts["work_tables_truncated"]) == (2, 1)   # staged + validated
    assert scalar(db, "SELECT count(*) FROM leads_staging") == scalar(db, "SELECT count(*) FROM leads_validated") == 0
    # another upload still at work: this one's rows are deleted, the other's stay
    _, waiting = land_and_validate(db, (COLS + row.replace("M1", "M2")).encode())
    ctx, second = land_and_validate(db, (COLS + row.replace("M1", "M3")).encode())
    counts = pipeline.merge(ctx, second).counts
    assert (counts["work_rows_removed"], counts["work_tables_truncated"]) == (2, 0)
    assert scalar(db, "SELECT array_agg(DISTINCT upload_id) FROM leads_staging") == [waiting]
    assert scalar(db, "SELECT array_agg(DISTINCT upload_id) FROM leads_validated") == [waiting]
