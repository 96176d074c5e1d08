"""Helpers every command group shares: the runtime, the environment it exports, key files,
the Dagster home, the dbt manifest."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from orchestration import settings


def console():
    from rich.console import Console

    return Console(stderr=False)


def database_runtime(create: bool = True):
    from orchestration.db import runtime

    return runtime.bring_up(create=create)


def apply_env(rt) -> dict[str, str]:
    env = rt.env()
    os.environ.update(env)
    return env


def write_new_secret_file(path: Path, text: str) -> None:
    """A secrets file readable by its owner only (0600, in a 0700 folder); never overwritten."""
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def ensure_key_file() -> Path:
    from orchestration.campaign import consent
    from orchestration.events import webhooks

    path = settings.upload_keys_file()
    write_new_secret_file(path, "# active upload keys, one 'key_id:secret' per line (generated for local use)\n"
                                 f"local-{datetime.now(UTC):%Y%m}:{secrets.token_hex(32)}\n")
    write_new_secret_file(settings.event_keys_file(),
                           "# event senders, one 'sender:whsec_...' per line (Standard Webhooks secrets; two\n"
                           "# lines for one sender while its secret is rotated). Generated for local use.\n"
                           f"local:{webhooks.new_secret()}\n")
    write_new_secret_file(settings.form_secret_file(), consent.new_form_secret() + "\n")
    from orchestration.privacy import blind_index
    write_new_secret_file(settings.index_key_file(),
                           "# blind-index key: erasure suppressions are HMACs under it (keep it with the\n"
                           "# database's backups' keys, never in the database). Generated for local use.\n"
                           + blind_index.new_key_text())
    from orchestration.privacy import pii
    write_new_secret_file(settings.pii_keys_file(),
                           "# data keys e-mails and phones are sealed with, one 'key_id:64 hex' per line; the\n"
                           "# last line seals, the others only open (`equity keys rotate|reencrypt|retire`).\n"
                           "# Keep a copy with the backups' keys, never in the database. Generated for local use.\n"
                           + pii.new_key_line(f"k{datetime.now(UTC):%Y%m}"))
    return path


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


# Files a Dagster process writes (compute logs, run files) hold what runs print: the user's alone.
PRIVATE_UMASK = 0o077


def dagster_child_setup():
    """In each Dagster process ``equity`` starts: SIGINT/SIGTERM restored (a backgrounded dagster
    ignores both) and files created private to this user (umask 077)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.umask(PRIVATE_UMASK)


def run_forwarding(cmd: list[str]) -> int:
    """Run a long-lived Dagster process with SIGINT/SIGTERM restored in it and forwarded to it."""
    proc = subprocess.Popen(cmd, cwd=settings.REPO_ROOT, preexec_fn=dagster_child_setup)

    def forward(signum, _frame):
        proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return proc.wait()


def grpc_workspace(host: str, port: int) -> Path:
    """A workspace file naming the code server (written into DAGSTER_HOME: generated, not kept)."""
    path = settings.dagster_home() / "workspace.grpc.yaml"
    path.write_text(f"load_from:\n  - grpc_server:\n      host: {host}\n      port: {port}\n"
                    f"      location_name: equity-connect\n")
    return path


def dagster_exe(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


class ShowDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in --help, except where there is none to show."""

    def _get_help_string(self, action):
        if action.required or action.default in (None, False, argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)
