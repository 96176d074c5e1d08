"""`equity ingest` as an operator runs it: the venv's script, a clean environment naming only this
session's databases and folders, a run launched from the workspace (so the UI lists it and can
re-execute it), per-stage counts printed, and the exit code telling success from failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import dagster as dg

from orchestration.settings import REPO_ROOT
from tests.support import hostile
from tests.support.uploads import send


EQUITY = os.path.join(os.path.dirname(sys.executable), "equity")


def _env(stack) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
        # This session's databases and folders instead of the project's own.
        "EC_WAREHOUSE_DB": stack.warehouse_db, "EC_DAGSTER_DB": stack.dagster_db,
        **{k: os.environ[k] for k in ("DAGSTER_HOME", "EC_LANDING_DIR", "EC_OUTBOX_DIR", "EC_UPLOAD_KEYS_FILE")},
    }


def equity(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EQUITY, *args], cwd=REPO_ROOT, env=_env(stack), capture_output=True, text=True, timeout=300)


def equity_process(stack, *args: str) -> subprocess.Popen:
    return subprocess.Popen([EQUITY, *args], cwd=REPO_ROOT, env=_env(stack), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_equity_ingest_runs_one_upload_as_a_real_run(stack, db, door, instance):
    rows = hostile.rows_of("cli", 5)
    lines = hostile.to_csv(rows).splitlines(keepends=True)
    lines.insert(3, "just,three,fields\n")
    resp = send(door, "".join(lines).encode())
    uid = resp.json()["upload_id"]

    before = {r.run_id for r in instance.get_runs()}
    out = equity(stack, "ingest", "--latest", "--json")   # (the text form: test_ui runs it as the README does)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert f"upload {uid}" in out.stderr                     # progress goes to stderr, stdout is the document
    doc = json.loads(out.stdout)
    assert doc["upload_id"] == uid and doc["status"] == "SUCCESS" and doc["failure"] is None
    staged = doc["stages"]["leads_staging"]
    assert (staged["records"], staged["rows"], staged["malformed_rows"]) == (6, 5, 1)
    assert doc["reconciliation"]["records"] == doc["reconciliation"]["accounted"] == 6
    assert doc["reconciliation"]["ok"] is True

    runs = instance.get_runs()
    run = next(r for r in runs if r.tags.get("dagster/partition") == uid)
    assert run.job_name == "ingest_upload" and run.status.value == "SUCCESS"
    assert run.tags["equity/launched_by"] == "equity ingest"
    assert run.remote_job_origin is not None          # what the UI needs to re-execute it
    # No daemon runs for this instance, so the command worked the queue with a stand-in daemon whose
    # code location has no sensors and no schedules: the upload sensor (which would have asked for
    # this upload's run a second time) and the schedules ticked nothing.
    assert [r.run_id for r in instance.get_runs() if r.run_id not in before] == [run.run_id]
    assert not any(k.startswith(("dagster/sensor", "dagster/schedule")) for k in run.tags)


def test_equity_ingest_fails_loudly_and_knows_unknown_ids(stack, db, door):
    uid = send(door, b"address,city,state,zip\n").json()["upload_id"]
    out = equity(stack, "ingest", uid, "--json")           # the failure said to a person and as JSON
    assert out.returncode == 1
    assert "the run failed: upload" in out.stderr and "header but no data rows" in out.stderr
    doc = json.loads(out.stdout)
    assert doc["status"] == "FAILURE" and "header but no data rows" in doc["failure"]
    assert doc["upload_id"] == uid and doc["reconciliation"] is None

    out = equity(stack, "ingest", "20990101T000000Z-00000000")
    assert out.returncode == 2 and "no accepted upload '20990101T000000Z-00000000'" in out.stderr


def test_two_equity_ingests_at_once_run_one_after_the_other(stack, db, door, instance):
    """dagster.yaml lets one run write leads at a time (``equity/writes``): two operators'
    `equity ingest` of two uploads started together both succeed, their runs never overlap."""
    uids = [send(door, hostile.to_csv(hostile.rows_of(f"conc{i}", 3)).encode()).json()["upload_id"] for i in (1, 2)]
    procs = [equity_process(stack, "ingest", uid) for uid in uids]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, out[-3000:] + err[-3000:]
    records = [instance.get_run_record_by_id(next(r.run_id for r in instance.get_runs()
                                                  if r.tags.get("dagster/partition") == uid)) for uid in uids]
    assert all(r.dagster_run.tags.get("equity/writes") == "leads" for r in records)
    first, second = sorted(records, key=lambda r: r.start_time)
    assert first.end_time <= second.start_time, "the two ingest runs overlapped"


def test_a_run_left_waiting_in_the_queue_is_cancelled_at_the_timeout(stack, db, door, instance):
    """While another run holds the one ``equity/writes=leads`` slot, `equity ingest --wait-timeout`
    gives up, cancels the run it queued (it must not start hours later, unwatched) and says which
    limit it waited on."""
    holder = dg.DagsterRun(job_name="ingest_upload", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED,
                           tags={"equity/writes": "leads"})
    instance.add_run(holder)
    try:
        uid = send(door, hostile.to_csv(hostile.rows_of("held", 2)).encode()).json()["upload_id"]
        out = equity(stack, "ingest", uid, "--wait-timeout", "12")
        assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-2000:]
        assert "waited in the queue for 12 s (equity/writes=leads: 1 of 1) and was cancelled" in out.stderr
        run = next(r for r in instance.get_runs() if r.tags.get("dagster/partition") == uid)
        assert run.status == dg.DagsterRunStatus.CANCELED
    finally:
        instance.delete_run(holder.run_id)
