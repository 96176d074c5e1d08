"""Keys are made on purpose, never by accident: a process that needs a key file refuses to start
without it (one line naming the variable) and creates nothing; keys that do not fit the warehouse's
sealed values are refused; `equity keys init` creates what is missing and never replaces a file;
`.env` is read by every command under one rule (the environment wins)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psycopg
import pytest

from orchestration import cli, settings
from orchestration.ops import keyfiles
from orchestration.privacy import pii

SERVE_KEYS = [kf.variable for kf in keyfiles.KEY_FILES if keyfiles.SERVE in kf.needed_by]
RUN_KEYS = [kf.variable for kf in keyfiles.KEY_FILES if keyfiles.RUNS in kf.needed_by]


@pytest.fixture(autouse=True)
def environ_restored():
    """`equity` exports its environment into os.environ (as it does for the processes it starts):
    put the session's back after each test."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def deployed(db, monkeypatch):
    """The stack's warehouse as an operator's DATABASE_URL (so nothing counts as the dev database)."""
    monkeypatch.setenv("DATABASE_URL", db)
    monkeypatch.setenv("EC_WAREHOUSE_DB", psycopg.conninfo.conninfo_to_dict(db)["dbname"])
    return db


def _refusal(capsys, argv: list[str]) -> str:
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0, f"{argv} started although a key was missing"
    assert len(err.splitlines()) == 1, f"not one line: {err}"
    return err


def _seal_one_lead(url: str) -> None:
    token = pii.environment_sealer().seal("email", "owner@example.test")
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO leads (first_name, property_address, email) VALUES ('Ann', '1 Elm St', %s)",
                     (token,))


@pytest.mark.parametrize("variable", SERVE_KEYS)
def test_serve_refuses_without_each_of_its_keys_and_creates_none(deployed, capsys, monkeypatch, tmp_path, variable):
    absent = tmp_path / "not-mounted" / "key"
    monkeypatch.setenv(variable, str(absent))
    err = _refusal(capsys, ["serve", "--port", "1"])
    assert variable in err and str(absent) in err and "equity keys init" in err
    assert not absent.exists() and not absent.parent.exists()


@pytest.mark.parametrize("variable", RUN_KEYS)
def test_code_server_and_ingest_refuse_without_each_of_their_keys(deployed, capsys, monkeypatch, tmp_path, variable):
    absent = tmp_path / "key"
    monkeypatch.setenv(variable, str(absent))
    for argv in (["code-server", "--port", "1"], ["ingest", "--latest"]):
        err = _refusal(capsys, argv)
        assert variable in err, err
        assert not absent.exists()


@pytest.mark.parametrize("problem", ["empty", "a folder", "unreadable"])
def test_an_unusable_key_file_is_named_like_a_missing_one(deployed, capsys, monkeypatch, tmp_path, problem):
    path = tmp_path / "index_key"
    if problem == "empty":
        path.write_text("\n")
    elif problem == "a folder":
        path.mkdir()
    else:
        if os.geteuid() == 0:
            pytest.skip("root reads any file")
        path.write_text("ab" * 32 + "\n")
        path.chmod(0)
    monkeypatch.setenv("EC_INDEX_KEY_FILE", str(path))
    assert "EC_INDEX_KEY_FILE" in _refusal(capsys, ["serve", "--port", "1"])


def test_setup_with_database_url_creates_no_key(deployed, capsys, monkeypatch, tmp_path):
    for kf in keyfiles.KEY_FILES:
        monkeypatch.setenv(kf.variable, str(tmp_path / kf.variable))
    assert cli.main(["setup", "--skip-dbt"]) == 0
    assert "equity keys init" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_keys_init_creates_what_is_missing_privately_and_never_replaces(deployed, capsys, monkeypatch, tmp_path):
    folder = tmp_path / "secrets"
    for kf in keyfiles.KEY_FILES:
        monkeypatch.setenv(kf.variable, str(folder / kf.variable.lower()))
    keep = folder / "ec_upload_keys_file"
    folder.mkdir()
    keep.write_text("vendor-a:the-operators-own-secret\n")
    assert cli.main(["keys", "init"]) == 0
    out = capsys.readouterr().out
    assert out.count("created") >= len(keyfiles.KEY_FILES) - 1 and "present  EC_UPLOAD_KEYS_FILE" in out
    assert keep.read_text() == "vendor-a:the-operators-own-secret\n"
    first = {p.name: p.read_text() for p in folder.iterdir()}
    assert len(first) == len(keyfiles.KEY_FILES)
    for p in folder.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600 or p == keep, p
    pii.environment_sealer().seal("email", "a@b.test")          # what it made is a working ring and index key
    assert cli.main(["keys", "init"]) == 0                       # again: nothing replaced
    assert {p.name: p.read_text() for p in folder.iterdir()} == first
    assert "created" not in capsys.readouterr().out


@pytest.mark.parametrize("variable", ["EC_PII_KEYS_FILE", "EC_INDEX_KEY_FILE"])
def test_a_lost_sealing_key_is_not_replaced_while_values_are_sealed_with_it(db, capsys, monkeypatch, tmp_path,
                                                                             variable):
    """Even `equity keys init` (and `equity setup` on the embedded database) refuses to make a new data
    or index key for a warehouse whose values were sealed with the lost one."""
    _seal_one_lead(db)
    monkeypatch.setenv("EC_WAREHOUSE_DB", psycopg.conninfo.conninfo_to_dict(db)["dbname"])
    lost = tmp_path / "lost"
    monkeypatch.setenv(variable, str(lost))
    for argv in (["keys", "init"], ["setup", "--skip-dbt"]):
        code = cli.main(argv)
        err = capsys.readouterr().err
        assert code != 0 and variable in err and "restore" in err, (argv, err)
        assert not lost.exists()


def _other_ring(tmp_path: Path, key_id: str) -> Path:
    path = tmp_path / f"ring-{key_id}"
    path.write_text(pii.new_key_line(key_id))
    return path


@pytest.mark.parametrize("swap", ["ring with another id", "ring with the same id", "index key"])
def test_keys_that_do_not_fit_the_warehouse_are_refused(deployed, capsys, monkeypatch, tmp_path, swap):
    _seal_one_lead(deployed)
    kid = pii.environment_sealer().ring.active_id
    if swap == "index key":
        other = tmp_path / "index"
        other.write_text("cd" * 32 + "\n")
        monkeypatch.setenv("EC_INDEX_KEY_FILE", str(other))
        expected = "EC_INDEX_KEY_FILE"
    else:   # the silent-generation accident: a fresh ring, possibly under the very same key id
        monkeypatch.setenv("EC_PII_KEYS_FILE", str(_other_ring(tmp_path, kid if "same" in swap else "k-new")))
        expected = "does not open" if "same" in swap else f"{kid!r}"
    for argv in (["serve", "--port", "1"], ["code-server", "--port", "1"]):
        err = _refusal(capsys, argv)
        assert expected in err, err


def test_matching_keys_pass_the_warehouse_check(deployed):
    _seal_one_lead(deployed)
    keyfiles.check_warehouse(deployed)      # the keys it was sealed with: no refusal


def test_serve_reads_dotenv_and_the_environment_wins(deployed, capsys, monkeypatch, tmp_path):
    """`.env` fills in what the environment leaves unset (a relative path is relative to the file),
    and never replaces what the environment sets: shown through `equity serve`'s refusal, which
    names the path it was given."""
    env_file = tmp_path / "conf" / ".env"
    env_file.parent.mkdir()
    env_file.write_text("EC_FORM_SECRET_FILE=keys/form_secret\nEC_EVENT_KEYS_FILE=/from/dotenv/event_keys\n")
    monkeypatch.setenv("EC_ENV_FILE", str(env_file))
    monkeypatch.delenv("EC_FORM_SECRET_FILE")      # unset: the file's value applies
    events_before = os.environ["EC_EVENT_KEYS_FILE"]  # set: the environment's value stays
    err = _refusal(capsys, ["serve", "--port", "1"])
    assert f"EC_FORM_SECRET_FILE={tmp_path / 'conf' / 'keys' / 'form_secret'}" in err
    assert "/from/dotenv" not in err and os.environ["EC_EVENT_KEYS_FILE"] == events_before
    assert settings.value("EC_FORM_SECRET_FILE") == str(tmp_path / "conf" / "keys" / "form_secret")
