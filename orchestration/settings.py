"""Project paths and environment-driven settings.

Everything is read when a function is called, never at import time, so tests and the CLI can
set the environment first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "db" / "migrations"
SAMPLE_DATA_DIR = Path(__file__).resolve().parent / "sample_data"

# Names of the variables the runtime hands to Dagster, dbt and psycopg (see .env.example).
WAREHOUSE_URL_VAR = "EC_WAREHOUSE_URL"          # psycopg URL of the warehouse database
DAGSTER_STORAGE_URL_VAR = "EC_DAGSTER_STORAGE_URL"  # postgresql+psycopg2:// URL for dagster.yaml


def env_path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


def pgdata_dir() -> Path:
    return env_path("EC_PGDATA", REPO_ROOT / ".pgdata")


def dagster_home() -> Path:
    return env_path("DAGSTER_HOME", REPO_ROOT / ".dagster_home")


def landing_dir() -> Path:
    return env_path("EC_LANDING_DIR", REPO_ROOT / ".landing")


def outbox_dir() -> Path:
    return env_path("EC_OUTBOX_DIR", REPO_ROOT / ".outbox")


def upload_keys_file() -> Path:
    return env_path("EC_UPLOAD_KEYS_FILE", REPO_ROOT / ".secrets" / "upload_keys")


def event_keys_file() -> Path:
    return env_path("EC_EVENT_KEYS_FILE", REPO_ROOT / ".secrets" / "event_keys")


def index_key_file() -> Path:
    """The blind-index key (orchestration.privacy.blind_index): never in the database."""
    return env_path("EC_INDEX_KEY_FILE", REPO_ROOT / ".secrets" / "index_key")


def pii_keys_file() -> Path:
    """The data keys e-mails and phones are sealed with (orchestration.privacy.pii): never in the database."""
    return env_path("EC_PII_KEYS_FILE", REPO_ROOT / ".secrets" / "pii_keys")


def form_secret_file() -> Path:
    return env_path("EC_FORM_SECRET_FILE", REPO_ROOT / ".secrets" / "form_secret")


def warehouse_db_name() -> str:
    return os.environ.get("EC_WAREHOUSE_DB", "equity_connect")


def dagster_db_name() -> str:
    return os.environ.get("EC_DAGSTER_DB", "dagster")


def external_database_url() -> str | None:
    return os.environ.get("DATABASE_URL") or None


def dbt_executable() -> Path:
    """The dbt installed beside this interpreter (the venv's): found without the venv on PATH."""
    return Path(sys.executable).with_name("dbt")
