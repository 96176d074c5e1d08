"""`equity test` hands everything after `test` to pytest, options first included, and runs on one
worker per core unless the arguments ask for one process."""

from __future__ import annotations

import pytest

from orchestration import cli
from orchestration.cli import system


@pytest.fixture
def captured(monkeypatch):
    seen = {}
    monkeypatch.setattr(system, "cmd_setup", lambda args: None)
    monkeypatch.setattr(system.subprocess, "call", lambda cmd, cwd=None: seen.setdefault("cmd", cmd) and 0)
    return seen


@pytest.mark.parametrize("args", [["-x"], ["--durations=40"], ["-k", "door", "-q"], ["tests/unit", "--lf"],
                                  ["--", "-x", "tests/unit"], []])
def test_everything_after_test_reaches_pytest(captured, args):
    assert cli.main(["test", *args]) == 0
    cmd = captured["cmd"]
    given = args[1:] if args[:1] == ["--"] else args
    assert cmd[-len(given):] == given if given else cmd[-1] in ("loadgroup", "pytest")
    one_process = {"-x", "-p", "--pdb"} & set(given) or any("::" in a for a in given)
    assert ("-n" in cmd) == (not one_process)


def test_equity_test_help_is_equitys(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["test", "--help"])
    assert exit_.value.code == 0
    assert "pytest" in capsys.readouterr().out
