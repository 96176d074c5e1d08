"""`equity refresh`, `equity feed DATE` and `equity campaign status|pause|resume` as an operator
runs them: the venv's script in a clean environment, real runs launched from the workspace (the UI
lists them), a pause that feeds nobody and says why, and a resume with a reason that feeds again."""

from __future__ import annotations

import json
import os
import subprocess

from orchestration.settings import REPO_ROOT
from tests.integration.test_cli_ingest import EQUITY
from tests.integration.test_cli_ingest import _env as ingest_env
from tests.support.feeds import seed

KEY_FILES = ("EC_FORM_SECRET_FILE", "EC_PII_KEYS_FILE", "EC_INDEX_KEY_FILE", "EC_EVENT_KEYS_FILE")


def equity(stack, *args: str) -> subprocess.CompletedProcess:
    env = ingest_env(stack) | {k: os.environ[k] for k in KEY_FILES if k in os.environ} | {"EC_DAILY_FEED_CAP": "120"}
    return subprocess.run([EQUITY, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_refresh_pause_feed_resume_feed_from_the_terminal(stack, db, instance):
    seed(db, 200)
    out = equity(stack, "refresh", "--json")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    doc = json.loads(out.stdout)
    assert doc["status"] == "SUCCESS" and doc["contactable"] == 200

    out = equity(stack, "campaign", "pause", "--reason", "vendor list under review", "--by", "maria")
    assert out.returncode == 0 and "paused the sender" in out.stdout, out.stderr
    again = equity(stack, "campaign", "pause", "--reason", "twice")
    assert again.returncode == 1 and "already paused" in again.stderr
    status = json.loads(equity(stack, "campaign", "status", "--json").stdout)
    assert status["state"] == "paused" and status["pause"]["reason"] == "vendor list under review"
    assert status["pause"]["paused_by"] == "maria"

    paused = equity(stack, "feed", "2026-03-10", "--json")
    assert paused.returncode == 0, paused.stdout[-2000:] + paused.stderr[-2000:]
    doc = json.loads(paused.stdout)
    assert doc["paused"] is True and doc["fed"] == 0 and doc["status"] == "FAILURE"
    assert doc["shortfall_reason"] == "paused: vendor list under review"
    run = instance.get_run_by_id(doc["run_id"])
    assert run.tags["dagster/partition"] == "2026-03-10" and run.tags["equity/launched_by"] == "equity feed"

    assert equity(stack, "campaign", "resume").returncode == 2
    out = equity(stack, "campaign", "resume", "--reason", "list removed", "--by", "maria")
    assert out.returncode == 0 and "resumed the sender" in out.stdout and "list removed" in out.stdout

    fed = equity(stack, "feed", "2026-03-10")
    assert fed.returncode == 0, fed.stdout[-2000:] + fed.stderr[-2000:]
    assert "fed 120 for 2026-03-10 (120 of 120 for the date)" in fed.stdout and "export: " in fed.stdout
    status = equity(stack, "campaign", "status")
    assert status.returncode == 0 and "sender: FEEDING" in status.stdout and "list removed" in status.stdout

    for bad, why in (("2026-03-07", "is a Saturday"), ("03/10/2026", "is not a date"),
                     ("2025-06-02", "outside the feed's dates")):
        out = equity(stack, "feed", bad)
        assert out.returncode == 2 and why in out.stderr, (bad, out.stderr)
