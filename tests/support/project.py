"""The project's own environment as `equity` gives it to its processes, its GraphQL API, uploads landed there (UI and deployment tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from orchestration.settings import REPO_ROOT


QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {
    __typename
    ... on PythonError { message }
    ... on RepositoryLocation { repositories {
        jobs { name } schedules { name scheduleState { status } } sensors { name sensorState { status } }
        assetNodes { assetKey { path } groupName description } } } } } } } }
"""


def _graphql(port: int, query: str = QUERY, variables: dict | None = None) -> dict | None:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql",
                                 data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)["data"]
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}


def _project_env() -> dict[str, str]:
    """The environment `equity` gives its own processes (what `equity env` prints)."""
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "equity"), "env", "--show-secrets"],
                         cwd=REPO_ROOT,
                         env=CLEAN_ENV, capture_output=True, text=True, check=True).stdout
    return {k.removeprefix("export "): json.loads(v) for k, v in (line.split("=", 1) for line in out.splitlines())}


def land_in_project(street: str) -> str:
    """A one-row signed upload received into the project's own landing directory (the one `equity`
    processes use), as the signed-drop door receives it; returns its upload id."""
    from datetime import UTC, datetime
    from pathlib import Path

    from orchestration.core.landing import Landing
    from orchestration.ingest import signing
    from orchestration.ingest.receipt import Receiver

    env = _project_env()
    keys = signing.parse_keys(Path(env["EC_UPLOAD_KEYS_FILE"]).read_text())
    body = f"address,city,state,zip,email\n{street},Springfield,IL,62704,u.{time.time_ns()}@example.com\n".encode()
    path = Path(env["EC_LANDING_DIR"]) / ".tmp" / "test_upload.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    now = datetime.now(UTC)
    outcome = Receiver(Landing(env["EC_LANDING_DIR"]), keys, env["EC_WAREHOUSE_URL"]).receive_file(
        path, signing.sign(body, source="generic", key=keys[0], when=now), received_at=now)
    assert outcome.accepted, outcome.message
    return outcome.upload_id
