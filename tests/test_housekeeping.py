"""The daily sweep, run as its job: old replay guards, expired and used consent tokens and stale
.part files go; young ones stay; the counts are recorded."""

import os
import time

import psycopg

from orchestration.ingest.landing import Landing
from tests.conftest import run_job


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
    assert event == {"replay_guards": 1, "consent_tokens": 2, "part_files": 1, "part_bytes": 100}
    output = next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT")
    assert output.step_output_data.metadata["part_files"].value == 1


def test_the_sweep_is_scheduled_daily_in_the_operators_time_zone(defs):
    schedule = defs.resolve_schedule_def("housekeeping_schedule")
    assert schedule.cron_schedule == "15 3 * * *" and schedule.execution_timezone == "America/Los_Angeles"
