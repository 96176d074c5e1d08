"""Bootstrap with nothing but Python 3.11: create .venv, install the project, run a command.

    python3.11 orchestration/bootstrap.py demo     # set everything up, run the main job on sample data
    python3.11 orchestration/bootstrap.py test     # set everything up, run the test suite

Any other arguments are passed to the ``equity`` CLI (e.g. ``bootstrap.py ui``). Standard library only:
this file runs before anything is installed. Re-running skips the install while pyproject.toml is
unchanged.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"


def main() -> int:
    if sys.version_info[:2] != (3, 11):
        print(f"equity-connect needs Python 3.11 (this is {sys.version.split()[0]})", file=sys.stderr)
        return 2
    py = VENV / "bin" / "python"
    if not py.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != want:
        print("installing equity-connect and its dependencies into .venv (first time: a few minutes) ...",
              flush=True)
        subprocess.run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([py, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[dev]"], check=True)
        stamp.write_text(want)
    args = sys.argv[1:] or ["--help"]
    os.chdir(ROOT)
    return subprocess.call([str(VENV / "bin" / "equity"), *args])


if __name__ == "__main__":
    sys.exit(main())
