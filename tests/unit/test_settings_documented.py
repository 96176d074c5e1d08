"""One table of settings (``orchestration.settings.VARIABLES``): `.env.example` is generated from it,
every variable the code reads is in it, every row of it is read somewhere, and `equity` hands its
handed-on rows to the processes it starts — an operator moving to a real deployment finds each
setting in one place."""

from __future__ import annotations

import re

import pytest

from orchestration import settings
from orchestration.settings import REPO_ROOT

NAME = re.compile(r"\b(EC_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL|DAGSTER_HOME)\b")
TABLE = {v.name for v in settings.VARIABLES if v.name}


def _read_by_code() -> set[str]:
    found: set[str] = set()
    for path in (REPO_ROOT / "orchestration").rglob("*.py"):
        if "migrations" in path.parts or path.name == "settings.py":
            continue
        # quoted names only: a variable is read by name, a docstring mentioning one is not a read
        found |= {m.group(1) for m in re.finditer(r"[\"'](EC_[A-Z0-9_]+|DATABASE_URL|DAGSTER_HOME)[\"']",
                                                  path.read_text())
                  if not m.group(1).endswith("_")}
    for path in (REPO_ROOT / "dagster.yaml", REPO_ROOT / "dbt_project" / "profiles.yml"):
        found |= set(NAME.findall(path.read_text()))
    return found


def test_env_example_is_generated_from_the_table():
    assert (REPO_ROOT / ".env.example").read_text() == settings.env_example(), \
        "regenerate it: equity env --example > .env.example"


def test_every_variable_the_code_reads_is_in_the_table():
    assert _read_by_code() - TABLE - set(settings.DERIVED) == set(), "add each to settings.VARIABLES"


def test_every_row_of_the_table_is_read_somewhere():
    # the settings module's own accessors count as reads (pgdata_dir() reads EC_PGDATA)
    own = set(re.findall(r"(?:value|_path)\(\"([A-Z_]+)\"\)", (REPO_ROOT / "orchestration/settings.py").read_text()))
    assert TABLE - _read_by_code() - own == set()


def test_every_handed_on_setting_reaches_the_processes_equity_starts(monkeypatch):
    from orchestration.db.runtime import Runtime

    monkeypatch.setenv("EC_DAILY_FEED_CAP", "17")
    monkeypatch.setenv("EC_FEED_HOLIDAYS", "")
    monkeypatch.delenv("EC_UI_URL", raising=False)
    monkeypatch.delenv("EC_LANDING_DIR", raising=False)   # a test worker points it at its own
    env = Runtime("h", 1, "u", "p", "w", "d", False, None).env()
    assert {v.name for v in settings.VARIABLES if v.handed_on} <= set(env)
    assert set(settings.DERIVED) <= set(env)
    assert env["EC_DAILY_FEED_CAP"] == "17"
    assert env["EC_FEED_HOLIDAYS"] == ""                     # set empty: no holidays, not the default
    assert env["EC_UI_URL"] == settings.variable("EC_UI_URL").default
    assert env["EC_LANDING_DIR"] == str(REPO_ROOT / ".landing")


def test_a_path_set_empty_means_its_default(monkeypatch, tmp_path):
    monkeypatch.setenv("EC_OUTBOX_DIR", "")
    assert settings.outbox_dir() == REPO_ROOT / ".outbox"
    monkeypatch.setenv("EC_OUTBOX_DIR", str(tmp_path / "out"))
    assert settings.outbox_dir() == tmp_path / "out"


def test_a_name_outside_the_table_is_refused():
    with pytest.raises(KeyError, match="EC_NOT_A_SETTING is not in"):
        settings.variable("EC_NOT_A_SETTING")


@pytest.mark.parametrize("name, value, shown", [
    ("EC_INSTANTLY_API_KEY", "sk-live-123", "***"),
    ("EC_INSTANTLY_API_KEY", "", ""),
    ("EC_PG_PASSWORD", "hunter2", "***"),
    ("EC_ALERT_WEBHOOK_URLS", "https://hooks.slack.com/services/T0/B0/abc", "***"),
    ("EC_WAREHOUSE_URL", "postgresql://app:s3cr%40t@db.example.com:5432/ec", "postgresql://app:***@db.example.com:5432/ec"),
    ("EC_DAGSTER_STORAGE_URL", "postgresql+psycopg2://postgres:@/dagster?host=/x", "postgresql+psycopg2://postgres:@/dagster?host=/x"),
    ("EC_LANDING_DIR", "/srv/landing", "/srv/landing"),
])
def test_equity_env_masks_secrets(name, value, shown):
    assert settings.masked(name, value) == shown


def test_every_secret_setting_is_masked():
    for row in settings.VARIABLES:
        if row.secret:
            assert settings.masked(row.name, "a-secret-value") == "***", row.name
