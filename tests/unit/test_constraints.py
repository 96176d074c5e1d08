"""Installs are reproducible: constraints.txt pins the whole tree the bootstrap installs, every
dependency of pyproject.toml is pinned there at a version its specifier allows, and what this
environment runs is exactly what the file pins (so the suite tests the pins a deployment gets)."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from orchestration import settings

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)$")


def _pins() -> dict[str, str]:
    pins = {}
    for line in (settings.REPO_ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = PIN.match(line)
        assert m, f"constraints.txt: not a name==version pin: {line!r}"
        name = canonicalize_name(m.group(1))
        assert name not in pins, f"{name} pinned twice"
        pins[name] = m.group(2)
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((settings.REPO_ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["dev"]]]


def test_every_dependency_is_pinned_at_a_version_pyproject_allows():
    pins = _pins()
    for req in _requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not pinned in constraints.txt (run `bootstrap.py lock`)"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} breaks {req}"
        for extra in req.extras:     # e.g. psycopg[binary] -> psycopg-binary
            for dep in metadata.requires(req.name) or []:
                sub = Requirement(dep)
                if sub.marker and sub.marker.evaluate({"extra": extra}) and not sub.marker.evaluate({"extra": ""}):
                    assert canonicalize_name(sub.name) in pins, f"{sub.name} ({req.name}[{extra}]) is not pinned"


def test_this_environment_runs_what_the_file_pins():
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = {n: (v, installed[n]) for n, v in _pins().items() if n in installed and installed[n] != v}
    assert not wrong, f"installed versions differ from constraints.txt (pinned, installed): {wrong}"
    missing = sorted(n for n in _pins() if n not in installed)
    assert not missing, f"pinned but not installed: {missing}"
