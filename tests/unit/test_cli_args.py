"""`equity test` hands everything after `test` to pytest, options first included, and runs on one
worker per core unless the arguments ask for one process."""

from __future__ import annotations

import pytest

from orchestration import cli
from orchestration.cli import system


@pytest.fixture
def captured(monkeypatch):
    seen = {}
    monkeypatch.setattr(system, "setup", lambda **kw: None)
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


class _Terminal:
    def __init__(self, answer: str):
        self.answer = answer

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.answer + "\n"


@pytest.mark.parametrize("argv", [["migrate", "down"], ["migrate", "down", "base"], ["migrate", "down", "0017"]])
def test_migrate_down_needs_a_target_and_a_confirmation(argv, capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))     # not a terminal: only --yes confirms
    monkeypatch.setattr(system, "database_runtime", lambda **kw: pytest.fail("no database is touched"))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert ("no default" in err) if len(argv) == 2 else ("--yes" in err)


@pytest.mark.parametrize("answer, refused", [("0017", False), ("base", True), ("", True), ("yes", True)])
def test_at_a_terminal_the_target_is_typed_again(answer, refused):
    import argparse

    args = argparse.Namespace(revision="0017", yes=False)
    assert (system._downgrade_refusal(args, stdin=_Terminal(answer)) is not None) == refused


def test_yes_confirms_without_a_prompt():
    import argparse

    assert system._downgrade_refusal(argparse.Namespace(revision="base", yes=True)) is None


@pytest.mark.parametrize("argv", [["sql", "list"], ["report", "funnel"], ["suppress", "list"]])
def test_an_unreachable_database_is_one_line_not_a_traceback(argv):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": "postgresql://someone:hunter2pw@127.0.0.1:1/nowhere"}
    env.pop("EC_WAREHOUSE_URL", None)
    out = subprocess.run([sys.executable, "-m", "orchestration", *argv], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert f"equity {argv[0]}: cannot reach the database" in out.stderr and "DATABASE_URL" in out.stderr
    assert "hunter2pw" not in out.stderr + out.stdout


def test_urls_in_a_message_lose_their_password():
    from orchestration import settings

    text = 'failed for postgresql://app:s3cret@db:5432/x and https://u:p@h/ but not "http://h/a:b@c"'
    assert settings.scrub_urls(text) == ('failed for postgresql://app:***@db:5432/x and https://u:***@h/ '
                                         'but not "http://h/a:b@c"')


def test_json_stdout_carries_the_document_alone_even_when_children_print():
    """Under --json, what the command and the processes it starts print goes to stderr."""
    import json
    import subprocess
    import sys

    script = ("import subprocess, sys\n"
              "from orchestration.cli.common import JsonStdout, emit_json, console\n"
              "with JsonStdout():\n"
              "    subprocess.run(['echo', 'a child logs to its inherited stdout'])\n"
              "    print('progress for a person')\n"
              "    console().print('rich progress')\n"
              "    emit_json({'status': 'SUCCESS', 'rows': [1, 2]})\n"
              "print('after the block, stdout is stdout again')\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc, _, rest = out.stdout.partition("}\n")
    assert json.loads(doc + "}") == {"status": "SUCCESS", "rows": [1, 2]}
    assert rest == "after the block, stdout is stdout again\n"
    for noise in ("a child logs", "progress for a person", "rich progress"):
        assert noise in out.stderr
