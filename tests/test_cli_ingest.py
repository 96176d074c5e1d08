"""`equity ingest` as an operator runs it: the venv's script, a clean environment naming only this
session's databases and folders, a run launched from the workspace (so the UI lists it and can
re-execute it), per-stage counts printed, and the exit code telling success from failure."""

from __future__ import annotations

import os
import subprocess
import sys

from orchestration.settings import REPO_ROOT
from tests import hostile
from tests.test_hostile_files import send


def equity(stack, *args: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
        # This session's databases and folders instead of the project's own.
        "EC_WAREHOUSE_DB": stack.warehouse_db, "EC_DAGSTER_DB": stack.dagster_db,
        **{k: os.environ[k] for k in ("DAGSTER_HOME", "EC_LANDING_DIR", "EC_OUTBOX_DIR", "EC_UPLOAD_KEYS_FILE")},
    }
    exe = os.path.join(os.path.dirname(sys.executable), "equity")
    return subprocess.run([exe, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_equity_ingest_runs_one_upload_as_a_real_run(stack, db, door, instance):
    rows = hostile.rows_of("cli", 5)
    lines = hostile.to_csv(rows).splitlines(keepends=True)
    lines.insert(3, "just,three,fields\n")
    resp = send(door, "".join(lines).encode())
    uid = resp.json()["upload_id"]

    out = equity(stack, "ingest", "--latest")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert f"upload {uid}" in out.stdout
    assert "records 6, rows 5, malformed_rows 1" in out.stdout
    assert "reconciliation: 6 of 6 records accounted for" in out.stdout

    runs = instance.get_runs()
    run = next(r for r in runs if r.tags.get("dagster/partition") == uid)
    assert run.job_name == "ingest_upload" and run.status.value == "SUCCESS"
    assert run.tags["equity/launched_by"] == "equity ingest"
    assert run.remote_job_origin is not None          # what the UI needs to re-execute it


def test_equity_ingest_fails_loudly_and_knows_unknown_ids(stack, db, door):
    uid = send(door, b"address,city,state,zip\n").json()["upload_id"]
    out = equity(stack, "ingest", uid)
    assert out.returncode == 1
    assert "the run failed: upload" in out.stderr and "header but no data rows" in out.stderr

    out = equity(stack, "ingest", "20990101T000000Z-00000000")
    assert out.returncode == 2 and "no accepted upload '20990101T000000Z-00000000'" in out.stderr
