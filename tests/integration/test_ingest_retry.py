"""An ingest that failed for a reason time can fix (a deadlock, a lost connection, a lock timeout)
is retried by itself: its DLQ row gets a retry time, ``upload_retry_sensor`` re-runs the
partition when that time comes, a merge resolves the row; attempts carry over and double the
delay until a person is needed. A failure time cannot fix is left for a person at once."""

from __future__ import annotations

import psycopg

from orchestration.runs.local_runs import tick_sensor
from tests.support import hostile
from tests.support.stack import run_ingest, temporary_trigger
from tests.support.uploads import ingest

DEADLOCK = "RAISE EXCEPTION 'simulated' USING ERRCODE = '40P01';"           # deadlock_detected
CHECK_VIOLATION = "RAISE EXCEPTION 'simulated' USING ERRCODE = '23514';"    # a rule the data breaks


def failure_rows(db, uid: str) -> list[dict]:
    with psycopg.connect(db) as conn:
        return [{"id": r[0], "source": r[1], "attempts": r[2], "open": r[3] is None, "status": r[4].get("status"),
                 "transient": r[4].get("transient"), "due_in_s": r[5]} for r in conn.execute(
            "SELECT id, source, attempts, resolved_at, payload, extract(epoch FROM retry_after - now())"
            " FROM pipeline_dlq WHERE payload->>'upload_id' = %s AND payload->>'kind' = 'upload_failed'"
            " ORDER BY id", (uid,))]


def failing_ingest(db, door, instance, defs, stack, tag: str, n: int, error_body: str) -> tuple[str, dict]:
    """An upload of ``n`` rows whose merge meets ``error_body`` (a trigger on leads): (upload id,
    its one whole-upload failure row)."""
    with temporary_trigger(stack.warehouse_url, "pg_temp_fail", "leads", error_body):
        uid, failed = ingest(db, door, instance, defs, hostile.to_csv(hostile.rows_of(tag, n)).encode(),
                             raise_on_error=False)
    assert not failed.success
    [row] = failure_rows(db, uid)
    return uid, row


def make_due(db, dlq_id: int) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE pipeline_dlq SET retry_after = now() - interval '1 second' WHERE id = %s", (dlq_id,))


def test_a_transient_failure_is_retried_by_the_sensor_and_resolved_by_the_merge(db, door, instance, defs, stack):
    uid, row = failing_ingest(db, door, instance, defs, stack, "tr", 4, DEADLOCK)
    assert row["source"] == "leads" and row["transient"] and row["status"] == "retrying" and row["open"]
    assert row["attempts"] == 0 and 50 < row["due_in_s"] <= 60          # the first delay: 60 s
    with psycopg.connect(db) as conn:
        message = conn.execute("SELECT details->>'message' FROM pipeline_events WHERE upload_id = %s AND"
                               " event_type = 'upload_failed'", (uid,)).fetchone()[0]
    assert "it is retried by itself while attempts remain" in message and "SQLSTATE 40P01" in message

    not_yet = tick_sensor(defs, instance, "upload_retry_sensor")
    assert not not_yet.run_requests and "no transient ingest failure" in not_yet.skip_message

    make_due(db, row["id"])
    tick = tick_sensor(defs, instance, "upload_retry_sensor")
    [request] = tick.run_requests
    assert request.partition_key == uid and request.run_key == f"dlq-{row['id']}-1"
    assert request.tags["equity/dlq_retry"] == str(row["id"])
    [row] = failure_rows(db, uid)
    assert row["status"] == "relaunched" and row["attempts"] == 1 and row["due_in_s"] is None
    assert not tick_sensor(defs, instance, "upload_retry_sensor").run_requests   # asked for once only

    retried = run_ingest(defs, instance, uid)      # the run the daemon launches for the request
    assert retried.success
    [row] = failure_rows(db, uid)
    assert not row["open"] and row["status"] == "resolved"
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM leads").fetchone()[0] == 4
        resolved = conn.execute("SELECT details FROM pipeline_events WHERE upload_id = %s AND"
                                " event_type = 'dlq_resolved'", (uid,)).fetchone()[0]
    assert resolved["dlq_ids"] == [row["id"]]


def test_attempts_carry_over_with_doubling_delays_until_a_person_is_needed(db, door, instance, defs, stack):
    rows = hostile.rows_of("ga", 2)
    with temporary_trigger(stack.warehouse_url, "pg_temp_deadlock", "leads", DEADLOCK):
        uid, _ = ingest(db, door, instance, defs, hostile.to_csv(rows).encode(), raise_on_error=False)
        delays = []
        for attempt in range(1, 6):
            current = [r for r in failure_rows(db, uid) if r["open"]]
            assert len(current) == 1                       # one open failure row per upload
            make_due(db, current[0]["id"])
            [request] = tick_sensor(defs, instance, "upload_retry_sensor").run_requests
            assert request.run_key.endswith(f"-{attempt}")
            assert not run_ingest(defs, instance, uid, raise_on_error=False).success
            [current] = [r for r in failure_rows(db, uid) if r["open"]]
            assert current["attempts"] == attempt
            delays.append(current["due_in_s"])
    assert [round(d, -1) for d in delays[:4]] == [120, 240, 480, 960]
    assert current["status"] == "gave_up" and delays[4] is None
    assert not tick_sensor(defs, instance, "upload_retry_sensor").run_requests
    superseded = [r for r in failure_rows(db, uid) if not r["open"]]
    assert len(superseded) == 5 and {r["status"] for r in superseded} == {"superseded"}


def test_a_failure_time_cannot_fix_is_left_for_a_person(db, door, instance, defs, stack):
    uid, row = failing_ingest(db, door, instance, defs, stack, "pf", 2, CHECK_VIOLATION)
    assert row["open"] and row["transient"] is False and row["due_in_s"] is None and row["status"] is None
    assert not tick_sensor(defs, instance, "upload_retry_sensor").run_requests
    # A person fixes the cause and re-runs the partition: the merge resolves the row.
    assert run_ingest(defs, instance, uid).success
    [row] = failure_rows(db, uid)
    assert not row["open"] and row["status"] == "resolved"
