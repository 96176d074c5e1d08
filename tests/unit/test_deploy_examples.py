"""The deployment examples give each process exactly the keys it needs, and the backup list names
every key file: a container without a key mount refuses to start, so a missing mount here would be
a deployment that does not come up (and, before keys failed closed, one that made its own keys)."""

from __future__ import annotations

import re

import yaml

from orchestration import settings
from orchestration.ops import keyfiles

DOCS = settings.REPO_ROOT / "docs"
PURPOSE = {"serve": {keyfiles.SERVE}, "code-server": {keyfiles.RUNS}, "webserver": set(), "daemon": set()}


def _needed(command: str) -> set[str]:
    return {kf.variable for kf in keyfiles.KEY_FILES if kf.needed_by & PURPOSE[command]}


def test_compose_mounts_every_key_a_container_needs_and_no_other():
    compose = yaml.safe_load((DOCS / "deploy" / "compose.yaml").read_text())
    defined = set(compose.get("secrets", {}))
    seen = set()
    for name, service in compose["services"].items():
        command = service.get("command") or []
        if "equity" not in " ".join(command):
            continue
        sub = command[1]
        seen.add(sub)
        env = service.get("environment", {})
        mounted = set(service.get("secrets", []))
        assert mounted <= defined, f"{name} mounts an undefined secret: {mounted - defined}"
        wanted = set()
        for variable in _needed(sub):
            path = env.get(variable, "")
            assert path.startswith("/run/secrets/"), f"{name}: {variable} does not point at a mounted secret"
            wanted.add(path.rsplit("/", 1)[1])
        assert mounted == wanted, f"{name} ({sub}) mounts {sorted(mounted)}, needs {sorted(wanted)}"
    assert seen == set(PURPOSE)


def test_the_backup_list_names_every_key_file():
    text = (DOCS / "deployment.md").read_text()
    backups = text[text.index("## Backups"):]
    backups = backups[:backups.index("\n## ", 1)]
    for kf in keyfiles.KEY_FILES:
        assert kf.variable in backups, f"{kf.variable} missing from the backup list"


def test_systemd_units_share_one_environment_file():
    units = sorted((DOCS / "deploy" / "systemd").glob("*.service"))
    assert units
    files = {re.search(r"^EnvironmentFile=(.+)$", u.read_text(), re.M).group(1) for u in units}
    assert len(files) == 1
