"""Hostile and messy files through the real signed endpoint and the real ingest job.

Whatever arrives, an upload ends in one of two states and says which: (a) every record is
accounted for (leads, in-file duplicates, rejects, malformed records — the records_reconcile
check passes) and every good row is a lead of its own; or (b) the file is refused as a whole with
an ``upload_failed`` event, a DLQ row and the pipeline's one-line reason as the run's failure. The
door may also refuse it (4xx, recorded). Never a bare exception, never PII in events or messages.

The fuzz set (tests/hostile.py, fixed seed) holds more than 200 files in some 35 classes; the
exact-outcome tests below pin the classes one by one.
"""

from __future__ import annotations

import os

import httpx
import psycopg
import pytest

from orchestration.ingest import signing
from tests import hostile
from tests.conftest import ACTIVE_KEYS, run_ingest, signing_key

FUZZ = hostile.by_class()


@pytest.fixture
def door(db):
    """The upload endpoint with a limit large enough for the one large-field case (8 MiB)."""
    from orchestration.ingest.http import create_app
    from orchestration.ingest.landing import Landing
    from orchestration.ingest.receipt import Receiver
    from orchestration.local_runs import EndpointThread

    receiver = Receiver(Landing(os.environ["EC_LANDING_DIR"]), signing.parse_keys(ACTIVE_KEYS), db,
                        max_bytes=8 << 20)
    with EndpointThread(create_app(receiver)) as ep:
        yield ep


def send(door, body: bytes) -> httpx.Response:
    headers = {**signing.sign(body, source="generic", key=signing_key()), "Content-Type": "text/csv"}
    return httpx.post(door.url + "/uploads", content=body, headers=headers, timeout=60)


def _errors(error):
    while error is not None:
        yield error
        error = error.cause


def _texts(conn, upload_id: str) -> str:
    """Everything the pipeline wrote about an upload that is not a row payload."""
    events = conn.execute("SELECT coalesce(string_agg(details::text, ' '), '') FROM pipeline_events"
                          " WHERE upload_id = %s", (upload_id,)).fetchone()[0]
    reasons = conn.execute("SELECT coalesce(string_agg(reason, ' '), '') FROM pipeline_dlq"
                           " WHERE payload->>'upload_id' = %s OR payload->>'reference' = %s",
                           (upload_id, upload_id)).fetchone()[0]
    return events + " " + reasons


def outcome(db, instance, defs, case: hostile.Case, resp: httpx.Response) -> tuple[str, dict]:
    """Drive one case to its end state, asserting what every state owes; returns (state, facts)."""
    if resp.status_code != 202:
        assert 400 <= resp.status_code < 500, (case.name, resp.status_code, resp.text)
        ref = resp.json()["reference"]
        with psycopg.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM pipeline_events WHERE upload_id = %s AND event_type ="
                                " 'upload_refused'", (ref,)).fetchone()[0] == 1, case.name
            assert conn.execute("SELECT count(*) FROM pipeline_dlq WHERE payload->>'reference' = %s",
                                (ref,)).fetchone()[0] == 1, case.name
        return "door", {"status": resp.status_code, "message": resp.json()["message"]}
    uid = resp.json()["upload_id"]
    instance.add_dynamic_partitions("uploads", [uid])
    result = run_ingest(defs, instance, uid, raise_on_error=False)
    messages = " ".join(str(e.message or "") for e in result.all_events)
    with psycopg.connect(db) as conn:
        written = _texts(conn, uid)
        for email in case.good:
            # No e-mail of the file in any event, DLQ reason or Dagster event message.
            assert email not in messages and email not in written, (case.name, email)
        if result.success:
            checks = result.get_asset_check_evaluations()
            assert [c.check_name for c in checks] == ["records_reconcile"] and checks[0].passed, case.name
            staged = conn.execute("SELECT details FROM pipeline_events WHERE upload_id = %s AND event_type"
                                  " = 'staged' ORDER BY id DESC LIMIT 1", (uid,)).fetchone()[0]
            if case.records is not None:
                assert staged["records"] == case.records, (case.name, staged)
            if case.malformed is not None:
                assert staged["malformed_rows"] == case.malformed, (case.name, staged)
            found = {r[0] for r in conn.execute("SELECT email FROM leads WHERE email = ANY(%s)", (case.good,))}
            assert found == set(case.good), (case.name, sorted(set(case.good) - found)[:5])
            # No one's data inside another's lead: no e-mail in a name or address field.
            mixed = conn.execute(
                "SELECT count(*) FROM leads WHERE concat_ws(' ', first_name, last_name, property_address,"
                " property_city) LIKE '%%@example.com%%'").fetchone()[0]
            assert mixed == 0, case.name
            return "a", staged
        failed = [e for e in result.all_events if e.is_step_failure]
        assert failed, case.name
        chain = list(_errors(failed[0].step_failure_data.error))
        assert any(err.cls_name == "StageFailed" for err in chain), (case.name, [e.cls_name for e in chain])
        ev = conn.execute("SELECT details->>'message' FROM pipeline_events WHERE upload_id = %s AND"
                          " event_type = 'upload_failed' ORDER BY id DESC LIMIT 1", (uid,)).fetchone()
        assert ev is not None and ev[0], case.name
        assert conn.execute("SELECT count(*) FROM pipeline_dlq WHERE payload->>'upload_id' = %s",
                            (uid,)).fetchone()[0] >= 1, case.name
        return "b", {"message": ev[0]}


@pytest.mark.parametrize("klass", list(FUZZ))
def test_fuzz_class_ends_in_a_recorded_state(db, door, instance, defs, klass):
    for case in FUZZ[klass]:
        state, facts = outcome(db, instance, defs, case, send(door, case.body))
        allowed = {"a": {"a"}, "b": {"b"}, "door": {"door"}, "any": {"a", "b", "door"}}[case.expect]
        assert state in allowed, (case.name, state, facts)


def test_fuzz_set_is_large_and_seeded():
    cases = [c for cs in FUZZ.values() for c in cs]
    assert len(cases) >= 200 and len(FUZZ) >= 30
    assert [c.body for c in hostile.generate()] == [c.body for c in cases]   # same seed, same files
