"""The upload sensor: one partition and one run per upload, bounded per tick, a cursor that
survives restarts, late files never skipped, and thousands of files handled fast."""

import json
import os
import time
from datetime import UTC, datetime

from orchestration.defs.ingest.sensors import LAG_NS
from orchestration.core.landing import Landing, Manifest
from tests.support.stack import tick_sensor


def fake_accept(landing: Landing, n: int, mtime: float | None = None) -> list[str]:
    """Land n accepted uploads the way the receiver does (CSV + manifest)."""
    ids = []
    for _ in range(n):
        uid = Landing.new_upload_id()
        tmp = landing.temp_path(uid)
        tmp.write_bytes(b"address,city,state,zip\n")
        landing.accept(tmp, Manifest(uid, "generic", "0" * 64, datetime.now(UTC).isoformat(), "k", 1, "f.csv", "http"))
        if mtime is not None:
            os.utime(landing.manifest_path(uid), (mtime, mtime))
        ids.append(uid)
    return ids


def test_bounded_ticks_resume_and_never_repeat(db, instance, defs):
    landing = Landing(os.environ["EC_LANDING_DIR"]).ensure()
    ids = fake_accept(landing, 30)
    first = tick_sensor(defs, instance)
    assert len(first.run_requests) == 25                         # max_uploads_per_tick
    assert all(r.run_key == r.partition_key for r in first.run_requests)
    second = tick_sensor(defs, instance, first.cursor)
    assert len(second.run_requests) == 5
    got = [r.partition_key for r in first.run_requests + second.run_requests]
    assert sorted(got) == sorted(ids) and len(set(got)) == 30
    assert set(ids) <= set(instance.get_dynamic_partitions("uploads"))
    third = tick_sensor(defs, instance, second.cursor)
    assert not third.run_requests and third.skip_message == "no new uploads"


def test_cursor_survives_restart_and_late_files_are_not_skipped(db, instance, defs):
    landing = Landing(os.environ["EC_LANDING_DIR"]).ensure()
    fake_accept(landing, 2)
    cursor = json.loads(tick_sensor(defs, instance).cursor)
    # "Restart": a new evaluation with only the persisted cursor; a manifest that arrived with an
    # mtime slightly older than the cursor (clock skew, slow rename) must still be picked up.
    late = fake_accept(landing, 1, mtime=cursor["mtime_ns"] / 1e9 - 30)
    result = tick_sensor(defs, instance, json.dumps(cursor))
    assert [r.partition_key for r in result.run_requests] == late


def test_thousands_of_files_tick_quickly(db, instance, defs):
    landing = Landing(os.environ["EC_LANDING_DIR"]).ensure()
    old = time.time() - 3600
    fake_accept(landing, 2000, mtime=old)
    cursor = json.dumps({"mtime_ns": int(time.time() * 1e9)})
    new = fake_accept(landing, 1)
    # Only the manifest newer than the cursor (less its lag) is even considered: a tick's work
    # follows what is new, not the size of the directory. (No timing asserted: speed is measured in benchmarks/, never in tests.)
    since = json.loads(cursor)["mtime_ns"] - LAG_NS
    assert [uid for _, uid in landing.scan_manifests(since)] == new
    result = tick_sensor(defs, instance, cursor)
    assert [r.partition_key for r in result.run_requests] == new
