"""`equity ui` started exactly as the README says — from the repository root, the venv not on PATH,
no variable set by hand — loads the code location with every asset, job, schedule and sensor
(asserted over the webserver's GraphQL API), and stops cleanly on SIGTERM."""

import os
import signal
import subprocess
import sys
import time

import pytest

from orchestration.runs.local_runs import free_port
from orchestration.settings import REPO_ROOT
from tests.support.project import CLEAN_ENV, _graphql, land_in_project

# These tests use the project's own databases, landing directory and Dagster home (the state
# `equity` gives its processes): one worker runs them all, one after another.
pytestmark = pytest.mark.xdist_group("project")


REEXECUTE = """
mutation($parent: String!) { launchPipelineReexecution(
    reexecutionParams: {parentRunId: $parent, strategy: ALL_STEPS}) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }
"""
RUN = """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status parentRunId } } }"""


@pytest.fixture
def ui(embedded):
    port = free_port()
    env = CLEAN_ENV
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
    started = time.time() - 1
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
    assert {j["name"] for j in repo["jobs"]} >= {"ingest_upload", "contactable_refresh_job", "campaign_feed_job",
                                                  "housekeeping_job", "dlq_retry_job", "pipeline_health_job",
                                                  "blocklist_sync_job", "dashboards_job"}
    assert {(s["name"], s["scheduleState"]["status"]) for s in repo["schedules"]} == {
        ("campaign_feed_schedule", "RUNNING"), ("contactable_refresh", "RUNNING"), ("housekeeping_schedule", "RUNNING"),
        ("dlq_retry_schedule", "RUNNING"), ("pipeline_health_schedule", "RUNNING"),
        ("blocklist_sync_schedule", "RUNNING")}
    assert {(s["name"], s["sensorState"]["status"]) for s in repo["sensors"]} == {
        ("upload_sensor", "RUNNING"), ("upload_retry_sensor", "RUNNING"), ("alert_on_run_failure", "RUNNING"),
        ("alert_on_check_failure", "RUNNING"), ("dashboards_after_ingest", "RUNNING")}
    groups = {"/".join(a["assetKey"]["path"]): a["groupName"] for a in repo["assetNodes"]}
    assert groups == {
        "landed_file": "ingest", "leads_staging": "ingest", "leads_validated": "ingest", "leads": "ingest",
        "brokers": "warehouse", "analytics/stg_leads": "warehouse", "analytics/stg_brokers": "warehouse",
        "analytics/int_lead_scores": "warehouse", "analytics/int_lead_eligibility": "warehouse",
        "lead_scores": "warehouse", "analytics/int_lead_stages": "campaign",
        "pipeline_events": "warehouse", "lead_events": "campaign", "campaign_batch_leads": "campaign",
        "analytics/mv_contactable_leads": "campaign", "campaign_feed": "campaign",
        "analytics/funnel_daily": "campaign", "funnel": "campaign", "instantly_blocklist": "campaign",
        "pipeline_dlq": "warehouse", "lead_sources": "warehouse", "analytics/int_lead_origin": "campaign",
        **{f"analytics/{m}": "campaign" for m in ("uploads_daily", "broker_performance", "verification_providers",
                                                   "errors_daily", "score_distribution", "vendor_roi")},
        **{f"{d}_dashboard": "dashboards" for d in ("funnel", "uploads", "brokers", "verification", "errors",
                                                     "scores", "vendors")}}
    assert all(a["description"] for a in repo["assetNodes"])
    reexecute_a_launched_run(port)
    # what the runs wrote under DAGSTER_HOME (compute logs: what runs print) is this user's alone
    written = [p for p in (REPO_ROOT / ".dagster_home" / "storage").rglob("*")   # CLEAN_ENV: the default home
               if p.is_file() and p.stat().st_mtime >= started]
    assert written, "the runs wrote no compute log"
    assert [str(p) for p in written if p.stat().st_mode & 0o077] == []

    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 30   # the webserver and daemon finish their own shutdown
    while (left := _session_processes(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"processes left 30 s after SIGTERM: {left}"


def _session_processes(sid: int) -> list[str]:
    return subprocess.run(["pgrep", "-s", str(sid)], capture_output=True, text=True).stdout.split()


def reexecute_a_launched_run(port: int) -> None:
    """A run launched as the demo and `equity ingest` launch theirs is re-executed over GraphQL,
    as the UI's "Re-execute all" does, and succeeds."""
    upload_id = land_in_project("1 Ui St")
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "equity"), "ingest", upload_id],
                         cwd=REPO_ROOT, env=CLEAN_ENV, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    parent = out.stdout.split("launched run ", 1)[1].split()[0]
    assert "reconciliation:" in out.stdout and "records accounted for" in out.stdout

    launched = _graphql(port, REEXECUTE, {"parent": parent})["launchPipelineReexecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    child = launched["run"]["runId"]
    deadline, run = time.monotonic() + 240, {}
    while time.monotonic() < deadline:
        run = _graphql(port, RUN, {"id": child})["runOrError"]
        if run.get("status") in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert run == {"__typename": "Run", "status": "SUCCESS", "parentRunId": parent}
