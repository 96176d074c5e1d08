"""What every Dagster process this project starts has in common: the venv's own executables (the
venv need not be on PATH), SIGINT/SIGTERM restored and files private to the user, and workspace
files that name a code server. Used by ``equity``'s process commands and by the run launcher."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

LOCATION = "equity-connect"
# Files a Dagster process writes (compute logs, run files) hold what runs print: the user's alone.
PRIVATE_UMASK = 0o077


def dagster_child_setup() -> None:
    """In each Dagster process started here: SIGINT/SIGTERM restored (a backgrounded dagster
    ignores both) and files created private to this user (umask 077)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.umask(PRIVATE_UMASK)


def dagster_exe(name: str) -> str:
    """A Dagster executable of this venv (``dagster``, ``dagster-daemon``, ``dagster-webserver``)."""
    return str(Path(sys.executable).with_name(name))


def write_grpc_workspace(path: Path, host: str, port: int) -> Path:
    """A workspace file naming the code server at ``host:port`` as the project's code location."""
    path.write_text(f"load_from:\n  - grpc_server:\n      host: {host}\n      port: {port}\n"
                    f"      location_name: {LOCATION}\n")
    return path
