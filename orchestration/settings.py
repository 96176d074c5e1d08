"""Project paths and environment-driven settings.

Everything is read when a function is called, never at import time, so tests and the CLI can
set the environment first.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from orchestration import constants

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "db" / "migrations"
SAMPLE_DATA_DIR = Path(__file__).resolve().parent / "sample_data"

# Names of the variables the runtime hands to Dagster, dbt and psycopg.
WAREHOUSE_URL_VAR = "EC_WAREHOUSE_URL"          # psycopg URL of the warehouse database
DAGSTER_STORAGE_URL_VAR = "EC_DAGSTER_STORAGE_URL"  # postgresql+psycopg2:// URL for dagster.yaml


@dataclass(frozen=True)
class Variable:
    """One setting read from the environment.

    ``default`` is used when the variable is unset (a path is relative to the repository);
    ``handed_on`` variables are exported by ``equity`` to the processes it starts (Dagster, dbt), so
    every entry point sees the same value; ``example`` is what ``.env.example`` shows (the default
    when None); ``meaning`` becomes its comment there.
    """

    name: str
    default: str
    meaning: str
    handed_on: bool = False
    example: str | None = None
    is_path: bool = False
    secret: bool = False        # a value that must not be printed (``equity env`` masks it)


def _v(name, default, meaning, **kw) -> Variable:
    return Variable(name, default, meaning, **kw)


# The one table of settings: .env.example is generated from it (``equity env --example``; a test
# compares the two), ``Runtime.env()`` exports its handed-on rows, and the Dagster resources bind
# their fields to its names (``defs.resources.env_var`` refuses a name not in it). Sections are
# separated by a row whose name is empty.
VARIABLES: tuple[Variable, ...] = (
    _v("DATABASE_URL", "", "Use an existing PostgreSQL >= 15 instead of the embedded one (Supabase, RDS, local "
       "server). Dagster's storage then goes to <db>_dagster when the role may create it, else the same "
       "database.", example="postgresql://user:password@host:5432/equity_connect", secret=True),
    _v("EC_ENV_FILE", "./.env", "The file every `equity` command fills unset variables from (the environment "
       "wins; a relative path inside it is relative to its folder).", is_path=True),
    _v("", "", ""),
    _v("EC_PGDATA", "./.pgdata", "Embedded server data directory (as root the server runs as OS user pgserver and "
       "grants g+rx,o+rx on the parent folders it must traverse — it says so when it does).", is_path=True,
       example="/var/lib/equity-connect/pgdata"),
    _v("EC_WAREHOUSE_DB", "equity_connect", "The warehouse database's name."),
    _v("EC_DAGSTER_DB", "dagster", "The database of Dagster's own storage (runs, events, schedules)."),
    _v("", "", ""),
    _v("DAGSTER_HOME", "./.dagster_home", "Dagster home (instance config is copied from ./dagster.yaml by "
       "`equity setup`).", handed_on=True, is_path=True),
    _v("EC_LANDING_DIR", "./.landing", "Landing directory for uploads (incoming/, uploads/, quarantine/).",
       handed_on=True, is_path=True),
    _v("EC_OUTBOX_DIR", "./.outbox", "Campaign exports (one CSV per feed batch).", handed_on=True, is_path=True),
    _v("", "", ""),
    _v("EC_UPLOAD_KEYS_FILE", "./.secrets/upload_keys", "Verifier keys: a file of 'key_id:secret' lines (created "
       "by `equity keys init`, or `equity setup` on the embedded database; never by a running process).", handed_on=True, is_path=True),
    _v("EC_UPLOAD_KEYS", "", "Extra verifier keys given inline, 'key_id:secret' lines (beside the file's; for a "
       "container whose secrets arrive as variables).", example="vendor-a:replace-with-the-shared-secret",
       secret=True),
    _v("EC_UPLOAD_KEY", "", "A sender's own key for `equity upload` / `equity sign`.",
       example="vendor-a:replace-with-the-shared-secret", secret=True),
    _v("EC_UPLOAD_URL", "http://127.0.0.1:8080", "Where `equity upload` sends files."),
    _v("", "", ""),
    _v("EC_EVENT_KEYS_FILE", "./.secrets/event_keys", "Inbound events (POST /events, Standard Webhooks): a file of "
       "'sender:whsec_...' lines (created like the upload keys, with a random 'local' sender; re-read when it "
       "changes).",
       handed_on=True, is_path=True),
    _v("EC_FORM_SECRET_FILE", "./.secrets/form_secret", "Consent links: the secret they are derived from "
       "(created like the upload keys; without it, the links already sent stop working).", handed_on=True, is_path=True),
    _v("EC_PUBLIC_BASE_URL", "http://127.0.0.1:8080", "The public address of `equity serve` that people open "
       "their consent links at.", handed_on=True, example="https://consent.example.com"),
    _v("EC_PII_KEYS_FILE", "./.secrets/pii_keys", "E-mails and phones are sealed (AES-256-GCM) under the data keys "
       "of this file, one 'key_id:64 hex' per line, the last one sealing (created like the upload keys; `equity "
       "keys rotate|reencrypt|retire`). Keep it outside the database and apart from its backups.",
       handed_on=True, is_path=True),
    _v("EC_INDEX_KEY_FILE", "./.secrets/index_key", "The blind-index key (HMAC) sealed e-mails, phones and "
       "erasures are found by (created like the upload keys). Keep it outside the database and apart from its backups.", handed_on=True, is_path=True),
    _v("EC_KEEP_WORK_ROWS_HOURS", "0", "Hours an upload's work rows (the file's text) stay after its merge; 0 "
       "removes them with the merge.", handed_on=True),
    _v("EC_VALIDATION_WORKERS", "0", "Worker processes validating a large upload's slices side by side (0: the "
       "run's own process). Faster on spare cores, but each holds about 1 GB.", handed_on=True),
    _v("EC_SCHEDULES_AND_SENSORS", "on", "off: the code location loads without its schedules and sensors. "
       "`equity ingest` and the demo set it on the code server of the stand-in daemon they start when no daemon "
       "is running, so that daemon only works the run queue; leave it on everywhere else."),
    _v("", "", ""),
    _v("EC_INSTANTLY_BASE_URL", "", "The Instantly push (API v2) is off unless base URL, API key and campaign "
       "are all set.", handed_on=True, example="https://api.instantly.ai"),
    _v("EC_INSTANTLY_API_KEY", "", "Instantly API v2 key (a secret: never in the repository).", handed_on=True,
       secret=True),
    _v("EC_INSTANTLY_CAMPAIGN_ID", "", "The Instantly campaign leads are added to.", handed_on=True),
    _v("EC_INSTANTLY_WEBHOOK_IPS", "", "Instantly's webhooks (POST /events/instantly, a 'sender:hdr_<token>' line "
       "of the event keys file sent as the x-equity-webhook-token header): only from these addresses or CIDRs, "
       "comma-separated. Empty: any address with the right token.", handed_on=True, example="34.120.0.0/16"),
    _v("", "", ""),
    _v("EC_ALERT_WEBHOOK_URLS", "", "Alerts: failed runs and failed asset checks are POSTed (Slack-compatible JSON: "
       "{\"text\": ...} plus fields) to every URL here, separated by commas or spaces. Empty: no alerts.",
       handed_on=True, example="https://hooks.slack.com/services/T000/B000/XXXX", secret=True),
    _v("EC_UI_URL", "http://127.0.0.1:3000", "The Dagster UI's address, for the links in alerts.", handed_on=True),
    _v("", "", ""),
    _v("EC_DAILY_FEED_CAP", str(constants.DAILY_FEED_CAP), "Feeder: leads fed per feed date.", handed_on=True),
    _v("EC_FEED_HOLIDAYS", "US", "No-feed days: YYYY-MM-DD dates and calendars (US = the US federal calendar, "
       "NYSE), comma-separated.", handed_on=True, example="US, 2026-12-24"),
    _v("EC_CAMPAIGN_ENDPOINT_URL", "", "An endpoint each export is POSTed to (empty: none).", handed_on=True),
    _v("EC_MAILBOXES", "", "Sending mailboxes, comma-separated, each 'address:cap' or 'address:cap:start+step:"
       "YYYY-MM-DD' (a warm-up from start sends on that day, step more each day, up to cap). The day's feed is at "
       "most their total and each lead names its mailbox. Empty: no mailbox limit.", handed_on=True,
       example="anna@send.example.com:30, ben@send.example.com:30:5+3:2026-12-01"),
    _v("EC_BREAKER_WINDOW_DAYS", "7", "Sender-health breaker: the feed dates judged (the last N).", handed_on=True),
    _v("EC_BREAKER_MIN_SENDS", "50", "Sender-health breaker: sends a scope needs before it is judged.",
       handed_on=True),
    _v("EC_BREAKER_MAX_HARD_BOUNCE_PERCENT", "5", "Sender-health breaker: the hard-bounce rate (percent) that "
       "pauses the feed (a list's own rate pauses that list).", handed_on=True),
    _v("EC_BREAKER_MAX_COMPLAINT_PERCENT", "0.3", "Sender-health breaker: the spam-complaint rate (percent) that "
       "pauses the feed (Gmail's limit for bulk senders).", handed_on=True),
    _v("", "", ""),
    _v("EC_MAX_REJECT_PERCENT", "20", "Quality gate: refuse a file when more than this share of its rows is "
       "rejected.", handed_on=True),
    _v("EC_MIN_VERIFIED_PERCENT", "10", "Warn when fewer of an upload's leads than this share have a verified "
       "e-mail.", handed_on=True),
    _v("EC_MAX_BAD_SIGNATURE_PERCENT", "20", "Door health: share of the last hour's uploads refused for a bad "
       "signature before the pipeline_health check fails.", handed_on=True),
    _v("EC_MAX_REPLAY_PERCENT", "50", "Door health: share of the last day's uploads refused as replays before the "
       "pipeline_health check fails.", handed_on=True),
)

# Set by `equity` from the running database for Dagster, dbt and psycopg (`equity env` prints them).
DERIVED = (WAREHOUSE_URL_VAR, DAGSTER_STORAGE_URL_VAR, "EC_PG_HOST", "EC_PG_PORT", "EC_PG_USER",
           "EC_PG_PASSWORD", "EC_PG_DBNAME")

_BY_NAME = {v.name: v for v in VARIABLES if v.name}


def variable(name: str) -> Variable:
    """The table's row for ``name``; a KeyError names a setting the table does not hold."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name} is not in orchestration.settings.VARIABLES: add it there (and regenerate "
                       ".env.example with `equity env --example > .env.example`)") from None


def value(name: str) -> str:
    """The variable's value now: the environment's when set, else the table's default. A path is
    resolved (against the repository for the default), and an empty one means the default; any
    other setting set empty stays empty (``EC_FEED_HOLIDAYS=`` means no holidays)."""
    row = variable(name)
    raw = os.environ.get(name)
    if row.is_path:
        return str(Path(raw).expanduser().resolve() if raw else (REPO_ROOT / row.default).resolve())
    return row.default if raw is None else raw


_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")


def masked(name: str, text: str) -> str:
    """``text`` safe to print as the value of ``name``: a secret setting or password shows as
    ``***`` (empty stays empty), a password inside a URL as ``user:***@``."""
    row = _BY_NAME.get(name)
    if (row is not None and row.secret) or name == "EC_PG_PASSWORD":
        return "***" if text else ""
    return scrub_urls(text)


def scrub_urls(text: str) -> str:
    """``text`` with the password of every URL in it shown as ``***``."""
    return _URL_PASSWORD.sub(r"\1***@", text)


def handed_on() -> dict[str, str]:
    """The values ``equity`` exports to the processes it starts."""
    return {v.name: value(v.name) for v in VARIABLES if v.name and v.handed_on}


def env_example() -> str:
    """The text of .env.example, generated from the table."""
    lines = ["# equity-connect environment, generated from orchestration/settings.py VARIABLES",
             "# (`equity env --example > .env.example`). Nothing here is required for the embedded setup:",
             "# `equity` fills in what is missing. Never commit real secrets.", ""]
    for row in VARIABLES:
        if not row.name:
            lines.append("")
            continue
        lines += ["# " + line for line in textwrap.wrap(row.meaning, 98)]
        lines.append(f"# {row.name}={row.example if row.example is not None else row.default}")
    lines += ["", "# Set by `equity` from the running database for Dagster, dbt and psycopg (see `equity env`):"]
    lines += ["# " + line for line in textwrap.wrap(", ".join(DERIVED), 98)]
    return "\n".join(lines) + "\n"


def load_env_file(path: Path | None = None) -> list[str]:
    """Fill unset variables from the ``.env`` file (``EC_ENV_FILE``, by default the repository's,
    beside ``.env.example``); the names filled in. One rule for every ``equity`` command: **the environment wins** — a variable
    set in the environment (systemd ``Environment=``, compose ``environment:``, a shell export) is
    never replaced by the file, and the file fills in the rest. A relative path in the file is
    relative to the file's folder, wherever the command runs. Dagster's own command-line tools
    would instead let a ``.env`` in their working folder override the environment; ``equity``
    starts them outside the repository so that they see exactly what this function decided."""
    from dotenv import dotenv_values

    path = Path(value("EC_ENV_FILE")) if path is None else path
    if not path.is_file():
        return []
    filled = []
    for name, raw in dotenv_values(path).items():
        if raw is None or name in os.environ:
            continue
        row = _BY_NAME.get(name)
        if row is not None and row.is_path and raw:
            raw = str((path.parent / Path(raw).expanduser()).resolve())
        os.environ[name] = raw
        filled.append(name)
    return filled


def _path(name: str) -> Path:
    return Path(value(name))


def pgdata_dir() -> Path:
    return _path("EC_PGDATA")


def dagster_home() -> Path:
    return _path("DAGSTER_HOME")


def landing_dir() -> Path:
    return _path("EC_LANDING_DIR")


def outbox_dir() -> Path:
    return _path("EC_OUTBOX_DIR")


def upload_keys_file() -> Path:
    return _path("EC_UPLOAD_KEYS_FILE")


def event_keys_file() -> Path:
    return _path("EC_EVENT_KEYS_FILE")


def index_key_file() -> Path:
    """The blind-index key (orchestration.privacy.blind_index): never in the database."""
    return _path("EC_INDEX_KEY_FILE")


def pii_keys_file() -> Path:
    """The data keys e-mails and phones are sealed with (orchestration.privacy.pii): never in the database."""
    return _path("EC_PII_KEYS_FILE")


def form_secret_file() -> Path:
    return _path("EC_FORM_SECRET_FILE")


def warehouse_db_name() -> str:
    return value("EC_WAREHOUSE_DB")


def dagster_db_name() -> str:
    return value("EC_DAGSTER_DB")


def external_database_url() -> str | None:
    return value("DATABASE_URL") or None


def dbt_executable() -> Path:
    """The dbt installed beside this interpreter (the venv's): found without the venv on PATH."""
    return Path(sys.executable).with_name("dbt")
