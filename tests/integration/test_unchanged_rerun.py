"""A re-run of an upload whose inputs did not change since its last merge skips its work; anything
that could change its result makes it run in full (each way a re-run can differ, one case)."""

import psycopg
import pytest

from orchestration.ingest import fingerprint, pipeline
from tests.support.merges import COLS, land_and_validate, lead

ROWS = ["M1,,1 Main St,Town,CA,90210,Ann,70,ann@example.com,deliverable,(415) 555-0100,connected,,",
        "M2,,2 Main St,Town,CA,90210,Bo,71,bo@example.com,unknown,(415) 555-0101,disconnected,,",
        "M2,,2 Main St,Town,CA,90210,Bo,71,,,(415) 555-0102,connected,,"]     # an in-file duplicate


def run_all(ctx, uid) -> dict[str, pipeline.StageResult]:
    return {"staged": pipeline.stage(ctx, uid), "validated": pipeline.validate_upload(ctx, uid),
            "merged": pipeline.merge(ctx, uid)}


def skipped(results) -> set[str]:
    return {k for k, r in results.items() if r.details.get("skipped")}


def events(db, kind):
    with psycopg.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM pipeline_events WHERE event_type = %s", (kind,)).fetchone()[0]


@pytest.fixture
def merged(db):
    ctx, uid = land_and_validate(db, (COLS + "\n".join(ROWS) + "\n").encode())
    first = pipeline.merge(ctx, uid)
    assert first.counts["inserted"] == 2 and first.counts["lineage_rows"] == 3
    return ctx, uid, first


def test_an_unchanged_rerun_skips_every_stage_and_repeats_the_counts(db, merged):
    ctx, uid, first = merged
    before = lead(db)
    again = run_all(ctx, uid)
    assert skipped(again) == {"staged", "validated", "merged"}
    assert again["merged"].counts["inserted"] == first.counts["inserted"]
    assert again["merged"].counts["unchanged_upload"] == 1
    assert lead(db) == before and events(db, "rerun_skipped") == 3
    # the reconciliation still reads the counts of the run that did the work
    with psycopg.connect(db) as conn:
        from orchestration.db import store
        assert pipeline.reconcile(store.upload_summary(conn, uid)).ok


@pytest.mark.parametrize("change", ["reprocess", "code_map", "reject_limit", "lead_deleted", "failed_since",
                                    "code_changed"])
def test_whatever_could_change_the_result_runs_it_in_full(db, merged, change, monkeypatch):
    ctx, uid, _ = merged
    if change == "reprocess":
        ctx.reprocess = True
    elif change == "code_map":       # an operator marks a code verified: the re-run must pick it up
        with psycopg.connect(db) as conn:
            conn.execute("INSERT INTO verification_code_map (provider, channel, code, is_verified)"
                         " VALUES ('batchdata', 'email', 'unknown', true)"
                         " ON CONFLICT (provider, channel, code) DO UPDATE SET is_verified = NOT"
                         " verification_code_map.is_verified")
    elif change == "reject_limit":
        ctx.max_reject_rate = 0.05
    elif change == "lead_deleted":   # a reset or a removal: the leads must come back
        with psycopg.connect(db) as conn:
            conn.execute("DELETE FROM leads WHERE mak = 'M1'")
    elif change == "failed_since":
        with psycopg.connect(db) as conn:
            conn.execute("INSERT INTO pipeline_events (event_type, stage, upload_id, details)"
                         " VALUES ('upload_failed', 'leads', %s, '{}')", (uid,))
    elif change == "code_changed":      # the code itself changed (a deploy): another digest
        monkeypatch.setattr(fingerprint, "code_digest", lambda: "another build")
    again = run_all(ctx, uid)
    assert skipped(again) == set()
    assert events(db, "rerun_skipped") == 0
    assert len(lead(db)) == 2 and again["merged"].counts["lineage_rows"] == 3
    if change == "lead_deleted":
        assert again["merged"].counts["inserted"] == 1
