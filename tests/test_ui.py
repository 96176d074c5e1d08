"""`equity ui` started exactly as the README says — from the repository root, the venv not on PATH,
no variable set by hand — loads the code location with every asset, job, schedule and sensor
(asserted over the webserver's GraphQL API), and stops cleanly on SIGTERM."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from orchestration.local_runs import free_port
from orchestration.settings import REPO_ROOT

QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {
    __typename
    ... on PythonError { message }
    ... on RepositoryLocation { repositories {
        jobs { name } schedules { name scheduleState { status } } sensors { name sensorState { status } }
        assetNodes { assetKey { path } groupName description } } } } } } } }
"""


def _graphql(port: int) -> dict | None:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": QUERY}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)["data"]
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


@pytest.fixture
def ui(embedded):
    port = free_port()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    log = open(REPO_ROOT / ".pytest_ui.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(os.path.relpath(os.path.join(os.path.dirname(sys.executable), "equity"),
                                                 REPO_ROOT)), "ui", "--port", str(port)],
                            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_equity_ui_loads_every_definition_and_stops_on_sigterm(ui):
    proc, port = ui
    deadline = time.monotonic() + 240
    data = None
    while time.monotonic() < deadline and proc.poll() is None:
        data = _graphql(port)
        entries = (data or {}).get("workspaceOrError", {}).get("locationEntries") or []
        if entries and entries[0]["locationOrLoadError"]:
            break
        time.sleep(2)
    assert data, "the webserver never answered; see .pytest_ui.log"
    [entry] = data["workspaceOrError"]["locationEntries"]
    location = entry["locationOrLoadError"]
    assert entry["name"] == "equity-connect"
    assert location["__typename"] == "RepositoryLocation", location.get("message")
    [repo] = location["repositories"]
    assert {j["name"] for j in repo["jobs"]} >= {"ingest_upload", "contactable_refresh_job", "campaign_feed_job"}
    assert {(s["name"], s["scheduleState"]["status"]) for s in repo["schedules"]} == {
        ("campaign_feed_schedule", "RUNNING"), ("contactable_refresh", "RUNNING")}
    assert {(s["name"], s["sensorState"]["status"]) for s in repo["sensors"]} == {
        ("upload_sensor", "RUNNING"), ("alert_on_run_failure", "RUNNING"), ("alert_on_check_failure", "RUNNING")}
    groups = {"/".join(a["assetKey"]["path"]): a["groupName"] for a in repo["assetNodes"]}
    assert groups == {
        "landed_file": "ingest", "leads_staging": "ingest", "leads_validated": "ingest", "leads": "ingest",
        "brokers": "warehouse", "analytics/stg_leads": "warehouse", "analytics/stg_brokers": "warehouse",
        "analytics/int_lead_scores": "warehouse",
        "analytics/mv_contactable_leads": "campaign", "campaign_feed": "campaign"}
    assert all(a["description"] for a in repo["assetNodes"])

    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 30   # the webserver and daemon finish their own shutdown
    while (left := _session_processes(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"processes left 30 s after SIGTERM: {left}"


def _session_processes(sid: int) -> list[str]:
    return subprocess.run(["pgrep", "-s", str(sid)], capture_output=True, text=True).stdout.split()
