"""Helpers every command group shares: the runtime, the environment it exports, the Dagster home
and the processes started in it, the dbt manifest."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from orchestration import settings
from orchestration.runs.processes import dagster_child_setup, write_grpc_workspace


def console(*, stderr: bool = False):
    """The terminal's rich console; ``stderr=True`` when stdout carries JSON (``--json``)."""
    from rich.console import Console

    return Console(stderr=stderr)


class JsonStdout:
    """``--json``: stdout carries one JSON document and nothing else. While the command works,
    whatever is written to stdout — by this process and by the processes it starts (a code server
    logs to the inherited descriptor) — goes to stderr; the document ``emit_json`` was given is
    written to the real stdout when the block ends."""

    current: "JsonStdout | None" = None

    def __enter__(self) -> "JsonStdout":
        self.docs: list = []
        self.stream = sys.stdout
        self.fd, self.saved = None, None
        try:
            self.fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):   # not a file (a test's capture buffer)
            pass
        if self.fd is not None:
            self.stream.flush()
            self.saved = os.dup(self.fd)
            os.dup2(sys.stderr.fileno(), self.fd)
        sys.stdout = sys.stderr
        JsonStdout.current = self
        return self

    def __exit__(self, *exc) -> None:
        JsonStdout.current = None
        sys.stderr.flush()
        sys.stdout = self.stream
        if self.saved is not None:
            os.dup2(self.saved, self.fd)
            os.close(self.saved)
        for doc in self.docs:
            self.stream.write(_json_text(doc))
        self.stream.flush()


def _json_text(doc) -> str:
    import json

    return json.dumps(doc, default=str, indent=2, ensure_ascii=False) + "\n"


def emit_json(data) -> None:
    """The command's JSON document (dates and ids as strings), for scripts and spreadsheets."""
    if JsonStdout.current is not None:
        JsonStdout.current.docs.append(data)
    else:
        sys.stdout.write(_json_text(data))


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout instead of text "
                                                            "(messages go to stderr)")


def database_runtime(create: bool = True):
    from orchestration.db import runtime

    return runtime.bring_up(create=create)


def apply_env(rt) -> dict[str, str]:
    env = rt.env()
    os.environ.update(env)
    return env


def ensure_dagster_home() -> Path:
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    source = settings.REPO_ROOT / "dagster.yaml"
    if not target.exists() or target.read_text() != source.read_text():
        target.write_text(source.read_text())
    return home


def prepare_dbt(env: dict[str, str]) -> None:
    """Write dbt_project/target/manifest.json (what the code location loads)."""
    subprocess.run([str(settings.dbt_executable()), "parse", "--quiet",
                    "--project-dir", str(settings.DBT_PROJECT_DIR), "--profiles-dir", str(settings.DBT_PROJECT_DIR)],
                   check=True, env={**os.environ, **env})


def warehouse_url() -> str:
    """The warehouse this process was pointed at (EC_WAREHOUSE_URL), else the project's own."""
    return os.environ.get(settings.WAREHOUSE_URL_VAR) or database_runtime().warehouse_url


def dagster_cwd() -> Path:
    """Where Dagster's processes run: DAGSTER_HOME, not the repository. Dagster's command-line tools
    load a ``.env`` of their working folder over the environment; ``equity`` has already applied the
    repository's ``.env`` under its own rule (the environment wins), so they must not apply it again
    under theirs. The package is installed, so nothing needs the repository as working folder."""
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    return home


def run_forwarding(cmd: list[str]) -> int:
    """Run a long-lived Dagster process with SIGINT/SIGTERM restored in it and forwarded to it."""
    proc = subprocess.Popen(cmd, cwd=dagster_cwd(), preexec_fn=dagster_child_setup)

    def forward(signum, _frame):
        proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return proc.wait()


def grpc_workspace(host: str, port: int) -> Path:
    """A workspace file naming the code server (written into DAGSTER_HOME: generated, not kept)."""
    return write_grpc_workspace(settings.dagster_home() / "workspace.grpc.yaml", host, port)


class ShowDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in --help, except where there is none to show."""

    def _get_help_string(self, action):
        if action.required or action.default in (None, False, argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)
