"""Bootstrap with nothing but Python 3.11: create .venv, install the project, run a command.

    python3.11 orchestration/bootstrap.py demo     # set everything up, run the main job on sample data
    python3.11 orchestration/bootstrap.py test     # set everything up, run the test suite

Any other arguments are passed to the ``equity`` CLI (e.g. ``bootstrap.py ui``). Standard library only:
this file runs before anything is installed. Re-running skips the install while pyproject.toml and
constraints.txt are unchanged.

Installs are reproducible: ``constraints.txt`` pins every distribution (the whole resolved tree) that
CI tested, and every install goes through it. To move the pins (a new release, a changed
dependency in pyproject.toml), run

    python3.11 orchestration/bootstrap.py lock

which resolves pyproject.toml afresh in a throwaway virtual environment, writes the result to
constraints.txt, and leaves .venv alone; commit the file once the tests pass on it.
"""

import hashlib
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
CONSTRAINTS = ROOT / "constraints.txt"


def lock() -> int:
    """Resolve pyproject.toml without pins in a throwaway venv and write constraints.txt."""
    with tempfile.TemporaryDirectory(prefix="equity-lock-") as tmp:
        env_dir = Path(tmp) / "venv"
        venv.EnvBuilder(with_pip=True).create(env_dir)
        py = env_dir / "bin" / "python"
        print("resolving pyproject.toml afresh (a few minutes) ...", flush=True)
        subprocess.run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        pinned = ["-c", str(CONSTRAINTS)] if CONSTRAINTS.exists() else []
        subprocess.run([py, "-m", "pip", "install", "--quiet", *pinned, "-e", f"{ROOT}[dev]"], check=True)
        frozen = subprocess.run([py, "-m", "pip", "freeze", "--exclude-editable"], check=True,
                                capture_output=True, text=True).stdout
    pins = sorted((ln for ln in frozen.splitlines() if ln and not ln.startswith("#")), key=str.lower)
    CONSTRAINTS.write_text("# Every distribution CI installs, pinned: written by `python3.11 orchestration/bootstrap.py lock`\n"
                           "# (resolves pyproject.toml afresh); the bootstrap installs through it.\n"
                           + "\n".join(pins) + "\n")
    print(f"wrote {len(pins)} pins to {CONSTRAINTS}")
    return 0


def main() -> int:
    if sys.version_info[:2] != (3, 11):
        print(f"equity-connect needs Python 3.11 (this is {sys.version.split()[0]})", file=sys.stderr)
        return 2
    if sys.argv[1:2] == ["lock"]:
        return lock()
    py = VENV / "bin" / "python"
    if not py.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".installed"
    inputs = [ROOT / "pyproject.toml"] + ([CONSTRAINTS] if CONSTRAINTS.exists() else [])
    want = hashlib.sha256(b"".join(p.read_bytes() for p in inputs)).hexdigest()
    if not stamp.exists() or stamp.read_text() != want:
        print("installing equity-connect and its dependencies into .venv (first time: a few minutes) ...",
              flush=True)
        subprocess.run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        pinned = ["-c", str(CONSTRAINTS)] if CONSTRAINTS.exists() else []
        subprocess.run([py, "-m", "pip", "install", "--quiet", *pinned, "-e", f"{ROOT}[dev]"], check=True)
        stamp.write_text(want)
    args = sys.argv[1:] or ["--help"]
    os.chdir(ROOT)
    return subprocess.call([str(VENV / "bin" / "equity"), *args])


if __name__ == "__main__":
    sys.exit(main())
