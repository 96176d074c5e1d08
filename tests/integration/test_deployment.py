"""Production shape: the code server, the webserver and the daemon as three processes
(`equity code-server`, `equity webserver`, `equity daemon`, started as the docs say, with a clean
environment) on the embedded PostgreSQL. A signed upload is picked up by the sensor in the daemon,
whose run succeeds; the code server is killed, the webserver reports the location down, and it
recovers once the code server is back. A run whose worker process is killed (kill -9, the OOM
killer) is marked failed instead of staying STARTED, and the daemon retries it once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import re
import time

import psycopg
import pytest

from orchestration.runs.local_runs import free_port
from orchestration.settings import REPO_ROOT
from tests.support.stack import temporary_trigger
from tests.support.project import CLEAN_ENV, _graphql, _project_env, land_in_project

# These tests use the project's own databases, landing directory and Dagster home (the state
# `equity` gives its processes): one worker runs them all, one after another.
pytestmark = pytest.mark.xdist_group("project")

EQUITY = os.path.join(os.path.dirname(sys.executable), "equity")
LOCATION = """{ workspaceOrError { ... on Workspace { locationEntries { name
    locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
RELOAD = """mutation { reloadRepositoryLocation(repositoryLocationName: "equity-connect") {
    __typename ... on WorkspaceLocationEntry { locationOrLoadError { __typename } } } }"""
RUNS = """query($uid: String!) { runsOrError(filter: {tags: [{key: "dagster/partition", value: $uid}]}) {
    ... on Runs { results { runId status tags { key value } } } } }"""
LOGS = """query($runId: ID!) { logsForRun(runId: $runId) { ... on EventConnection {
    events { __typename ... on MessageEvent { message } } } } }"""


class Process:
    def __init__(self, name: str, *args: str):
        self.log = open(REPO_ROOT / f".pytest_{name}.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([EQUITY, *args], cwd=REPO_ROOT, env=CLEAN_ENV, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def wait_for(what: str, fn, timeout: float = 240, every: float = 2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def location_state(port: int) -> str | None:
    data = _graphql(port, LOCATION)
    entries = (data or {}).get("workspaceOrError", {}).get("locationEntries") or []
    return entries[0]["locationOrLoadError"]["__typename"] if entries and entries[0]["locationOrLoadError"] else None


@pytest.fixture
def deployment(embedded):
    grpc, web = free_port(), free_port()
    procs = {"code": Process("code_server", "code-server", "--port", str(grpc))}
    procs["web"] = Process("webserver", "webserver", "--port", str(web), "--code-server", f"127.0.0.1:{grpc}")
    procs["daemon"] = Process("daemon", "daemon", "--code-server", f"127.0.0.1:{grpc}")
    try:
        yield procs, grpc, web
    finally:
        for p in procs.values():
            p.stop()


def test_three_processes_run_an_upload_fail_a_killed_run_and_survive_a_code_server_restart(deployment):
    procs, grpc, web = deployment
    assert wait_for("the location to load", lambda: location_state(web) == "RepositoryLocation")

    uid = land_in_project("2 Deploy St")

    def finished_for(upload_id: str):
        runs = ((_graphql(web, RUNS, {"uid": upload_id}) or {}).get("runsOrError") or {}).get("results") or []
        done = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
        return done[0] if done else None

    def finished():
        return finished_for(uid)

    run = wait_for("the sensor's run to finish", finished, timeout=300, every=3)
    assert run["status"] == "SUCCESS", f"run {run['runId']}: see .pytest_daemon.log"

    # kill -9 of a run's worker while it works: the run ends FAILURE, it does not stay STARTED.
    warehouse = _project_env()["EC_WAREHOUSE_URL"]

    def sleeping() -> bool:
        with psycopg.connect(warehouse) as conn:
            return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'").fetchone()[0] > 0

    def worker_pid(run_id: str) -> int | None:
        events = ((_graphql(web, LOGS, {"runId": run_id}) or {}).get("logsForRun") or {}).get("events") or []
        found = [re.search(r"Started process for run \(pid: (\d+)\)", e.get("message") or "") for e in events]
        return next((int(m.group(1)) for m in found if m), None)

    with temporary_trigger(warehouse, "pg_temp_slow", "leads_staging", "PERFORM pg_sleep(20); RETURN NEW;"):
        slow = land_in_project("3 Slow St")
        assert wait_for("the slow run to reach its staging step", sleeping, timeout=300, every=1)
        runs = _graphql(web, RUNS, {"uid": slow})["runsOrError"]["results"]
        pid = wait_for("the run worker's pid", lambda: worker_pid(runs[0]["runId"]), timeout=30, every=1)
        os.kill(pid, signal.SIGKILL)
        killed = wait_for("the killed run to be marked failed", lambda: finished_for(slow), timeout=120, every=2)
    assert killed["status"] == "FAILURE"
    messages = " ".join(e.get("message") or "" for e in
                        _graphql(web, LOGS, {"runId": killed["runId"]})["logsForRun"]["events"])
    assert "Run execution process for" in messages and "signal 9" in messages

    # A crash is retried once by the daemon (run_retries in dagster.yaml), and the retry finishes the upload.
    def retried():
        runs = _graphql(web, RUNS, {"uid": slow})["runsOrError"]["results"]
        retries = [r for r in runs if {"key": "dagster/parent_run_id", "value": killed["runId"]} in r["tags"]]
        return retries[0] if retries and retries[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED") else None

    retry = wait_for("the crashed run's automatic retry to finish", retried, timeout=300, every=3)
    assert retry["status"] == "SUCCESS", f"retry {retry['runId']}: see .pytest_daemon.log"
    assert {"key": "dagster/retry_number", "value": "1"} in retry["tags"]
    assert len(_graphql(web, RUNS, {"uid": slow})["runsOrError"]["results"]) == 2     # once, not again

    procs["code"].stop(signal.SIGKILL)
    down = _graphql(web, RELOAD)["reloadRepositoryLocation"]
    assert down["locationOrLoadError"]["__typename"] == "PythonError"     # the UI says the location is down
    procs["code"] = Process("code_server", "code-server", "--port", str(grpc))

    def back():
        result = (_graphql(web, RELOAD) or {}).get("reloadRepositoryLocation") or {}
        return (result.get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation"

    assert wait_for("the location to come back", back, timeout=120, every=3)
