"""The pipeline's environment in tests (a pytest plugin: tests/conftest.py registers it).

Fixtures: the embedded PostgreSQL 18 and PostgreSQL 15 servers, the session's stack (warehouse and
Dagster databases, landing directory, key files, DAGSTER_HOME — one per xdist worker, since
session fixtures are made per worker), a clean warehouse per test, the Dagster instance and the
code location. Helpers: test keys, reading rows, running sensors and jobs in process, a database
misbehaving on cue. Nothing is mocked."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from orchestration import settings
from orchestration.db import migrate, runtime
from orchestration.privacy import pii


TEST_KEYS = "test-2026:0123456789abcdef0123456789abcdef\ntest-old:retired-secret-do-not-use"


ACTIVE_KEYS = "test-2026:0123456789abcdef0123456789abcdef\n"


FORM_SECRET = "f0" * 32


PII_KEYS = "# test data keys: the last line seals\ntest-k1:" + "c1" * 32 + "\n"
# Tables the per-test cleanup empties (verification_code_map keeps its seed rows).


DATA_TABLES = ["campaign_pushes", "campaign_batch_leads", "campaign_batches", "consent_tokens", "lead_consent_audit",
               "lead_events", "lead_sources", "suppressions", "leads", "brokers", "leads_staging", "leads_validated",
               "ingest_replay_guard", "pipeline_dlq", "pipeline_events", "deletion_requests",
               "campaign_pauses", "blocklist_sync"]


@dataclass
class Server:
    name: str
    rt: runtime.Runtime

    def fresh_database(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        runtime.ensure_database(self.rt, name)
        return name

    def url(self, db: str) -> str:
        return self.rt.url(db)


@pytest.fixture(scope="session")
def embedded() -> Server:
    return Server("postgres18-embedded", runtime.bring_up(create=False).with_databases("postgres", "postgres"))


def _pg15_bindir() -> Path | None:
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    bindir = Path(out)
    if not (bindir / "initdb").exists() or not (bindir / "pg_ctl").exists():
        return None
    version = subprocess.run([bindir / "postgres", "--version"], capture_output=True, text=True).stdout
    return bindir if " 15." in version else None


@pytest.fixture(scope="session")
def pg15():
    """The machine's PostgreSQL 15 (pg_config --bindir), started in a temp dir for this session."""
    bindir = _pg15_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL 15 server binaries not found (pg_config --bindir)")
    tmp = Path(tempfile.mkdtemp(prefix="ec-pg15-"))
    os.chmod(tmp, 0o755)
    data, sock = tmp / "data", tmp / "sock"
    data.mkdir()
    sock.mkdir()
    user_kw: dict = {}
    if os.geteuid() == 0:  # initdb refuses root: run the server as the embedded server's OS user
        try:
            pw = pwd.getpwnam("pgserver")
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "pgserver"], check=True)
            pw = pwd.getpwnam("pgserver")
        for p in (tmp, data, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        user_kw = {"user": pw.pw_uid, "group": pw.pw_gid}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True, **user_kw)
    subprocess.run([bindir / "pg_ctl", "-D", data, "-w", "-l", tmp / "log", "-o",
                    f"-c listen_addresses='' -c unix_socket_directories={sock} -p {port}", "start"],
                   check=True, capture_output=True, **user_kw)
    rt = runtime.Runtime(host=str(sock), port=port, user="postgres", password="", warehouse_db="postgres",
                         dagster_db="postgres", embedded=False)
    try:
        yield Server("postgres15", rt)
    finally:
        subprocess.run([bindir / "pg_ctl", "-D", data, "-m", "fast", "stop"], capture_output=True, **user_kw)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session", params=["embedded", "pg15"])
def server(request) -> Server:
    """Parametrises a test over the embedded PostgreSQL 18 and PostgreSQL 15."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def stack(embedded: Server, tmp_path_factory):
    """The pipeline's own environment for this session: warehouse + Dagster databases on the
    embedded server, a landing dir, a key file and DAGSTER_HOME, all exported like `equity` does."""
    wh = embedded.fresh_database("ec_test")
    dg = embedded.fresh_database("ec_test_dagster")
    rt = embedded.rt.with_databases(wh, dg)
    migrate.upgrade(rt.warehouse_url)
    root = tmp_path_factory.mktemp("stack")
    keys = root / "upload_keys"
    keys.write_text(ACTIVE_KEYS)
    (root / "form_secret").write_text(FORM_SECRET + "\n")
    (root / "index_key").write_text("ab" * 32 + "\n")
    (root / "pii_keys").write_text(PII_KEYS)
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((settings.REPO_ROOT / "dagster.yaml").read_text())
    env = {**rt.env(), "DAGSTER_HOME": str(home), "EC_LANDING_DIR": str(root / "landing"),
           "EC_UPLOAD_KEYS_FILE": str(keys), "EC_OUTBOX_DIR": str(root / "outbox"),
           "EC_FORM_SECRET_FILE": str(root / "form_secret"), "EC_PUBLIC_BASE_URL": "https://consent.test",
           "EC_INDEX_KEY_FILE": str(root / "index_key"), "EC_PII_KEYS_FILE": str(root / "pii_keys")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield rt
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        time.sleep(0.1)
        runtime.drop_database(embedded.rt, wh)
        runtime.drop_database(embedded.rt, dg)


@pytest.fixture
def db(stack) -> str:
    """The session's warehouse URL, emptied before the test (superuser; bypasses RLS)."""
    with psycopg.connect(stack.warehouse_url, autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(DATA_TABLES) + " CASCADE")
    shutil.rmtree(os.environ["EC_LANDING_DIR"], ignore_errors=True)
    shutil.rmtree(os.environ["EC_OUTBOX_DIR"], ignore_errors=True)
    return stack.warehouse_url


def opened(row: dict) -> dict:
    """A lead-shaped row with its sealed e-mail and phone (and its payload's) opened with this
    environment's keys, as someone holding the keys reads it."""
    sealer = pii.environment_sealer()
    out = dict(row)
    for channel in ("email", "phone"):
        if out.get(channel) is not None:
            out[channel] = sealer.open(channel, out[channel])
    payload = out.get("melissa_payload")
    if isinstance(payload, dict):
        payload = dict(payload)
        for field, channel, leaf in (("phones", "phone", "number"), ("emails", "email", "address")):
            if isinstance(payload.get(field), list):
                payload[field] = [{**x, leaf: sealer.open(channel, x.get(leaf))} for x in payload[field]]
        out["melissa_payload"] = payload
    return out


def scalar(url: str, query: str, params: tuple = ()):
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchone()[0]


def signing_key(key_id: str = "test-2026"):
    from orchestration.ingest import signing

    return next(k for k in signing.parse_keys(TEST_KEYS) if k.key_id == key_id)


@pytest.fixture
def instance(stack):
    """A real DagsterInstance on PostgreSQL (the session's Dagster database)."""
    from dagster import DagsterInstance

    with DagsterInstance.get() as inst:
        yield inst


@pytest.fixture(scope="session")
def defs():
    """The code location's definitions, loaded once per session as the webserver loads them."""
    from orchestration.definitions import load

    return load()


def tick_sensor(defs, instance, cursor: str | None = None):
    """One evaluation of the upload sensor (the demo's helper); pass the previous tick's cursor."""
    from orchestration.runs.local_runs import tick_sensor as tick

    return tick(defs, instance, "upload_sensor", cursor=cursor)


def run_ingest(defs, instance, partition_key: str, raise_on_error: bool = True, reprocess: bool = False):
    from orchestration.runs.local_runs import run_job as run

    return run(defs, instance, "ingest_upload", partition_key=partition_key, raise_on_error=raise_on_error,
               tags={"equity/reprocess": "true"} if reprocess else None)


def leads_checksum(url: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT md5(coalesce(string_agg(l::text, '|' ORDER BY l.id), '')) FROM leads l").fetchone()[0]


def run_job(defs, instance, name: str, partition_key: str | None = None, raise_on_error: bool = True):
    from orchestration.runs.local_runs import run_job as run

    return run(defs, instance, name, partition_key=partition_key, raise_on_error=raise_on_error)


@contextmanager
def temporary_trigger(url: str, name: str, table: str, body: str, when: str = "true"):
    """A BEFORE INSERT trigger with a PL/pgSQL ``body`` on ``table`` while the block runs (a real
    database misbehaving on cue: an error quoting the row, a miscount)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} END $$;"
                     f" CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW WHEN ({when})"
                     f" EXECUTE FUNCTION {name}()")
    try:
        yield
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP TRIGGER {name} ON {table}; DROP FUNCTION {name}()")


def refresh_view(db: str, defs, instance) -> None:
    """Bring mv_contactable_leads up to date for a test about what happens around the refresh
    (events, suppressions, consent, the push) rather than the refresh itself. The session's first
    call builds the view with the real refresh job (dbt build); later calls refresh that view with
    the statement the project's refresh macro runs, instead of starting a dbt process each time
    (a dbt build costs about 10 s here; the refresh job's own behaviour is tested in
    test_refresh.py and test_feeder.py). Leads seeded after that first build were never judged by
    int_lead_eligibility (the write-back runs in the refresh job): they count as eligible here,
    where eligibility is not what is tested (test_eligibility.py tests it through the real job)."""
    with psycopg.connect(db, autocommit=True) as conn:
        built = conn.execute("SELECT to_regclass('analytics.mv_contactable_leads') IS NOT NULL").fetchone()[0]
        if built:
            conn.execute("UPDATE leads SET ineligible_reasons = '{}' WHERE ineligible_reasons IS NULL")
            conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.mv_contactable_leads")
            return
    assert run_job(defs, instance, "contactable_refresh_job").success
