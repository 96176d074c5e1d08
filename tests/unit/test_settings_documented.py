"""Every variable the code reads is in `.env.example`, and every variable `.env.example` names is
read somewhere: an operator moving to a real deployment finds each setting in one place."""

from __future__ import annotations

import re

from orchestration.settings import REPO_ROOT

NAME = re.compile(r"\b(EC_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL)\b")
# Set by `equity` from the running database for its own processes (`equity env` prints them);
# .env.example names them as a group.
DERIVED_PREFIX = "EC_PG_"


def _read_by_code() -> set[str]:
    found: set[str] = set()
    for path in (REPO_ROOT / "orchestration").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        # quoted names only: a variable is read by name, a docstring mentioning one is not a read
        found |= {m.group(1) for m in re.finditer(r"[\"'](EC_[A-Z0-9_]+|DATABASE_URL)[\"']", path.read_text())
                  if not m.group(1).endswith("_")}
    for path in (REPO_ROOT / "dagster.yaml", REPO_ROOT / "dbt_project" / "profiles.yml"):
        found |= set(NAME.findall(path.read_text()))
    return found


def _documented() -> set[str]:
    return set(NAME.findall((REPO_ROOT / ".env.example").read_text()))


def test_every_variable_the_code_reads_is_in_env_example():
    missing = {v for v in _read_by_code() - _documented() if not v.startswith(DERIVED_PREFIX)}
    assert missing == set(), "document each in .env.example (what it is, its default)"


def test_env_example_names_no_variable_nothing_reads():
    assert _documented() - _read_by_code() == set()
