"""Setting up and running the stack: setup, migrate, env, status, stop, ui, the three production
processes, demo, test."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from orchestration import settings
from orchestration.runs.processes import dagster_child_setup, dagster_exe
from orchestration.cli.common import (
    console,
    grpc_workspace,
    run_forwarding,
    database_runtime,
    apply_env,
    ensure_dagster_home,
    dagster_cwd,
    prepare_dbt,
)
from orchestration.ops import keyfiles
from orchestration.privacy import pii


SEALED_PII_REVISION = "0018"   # the revision that seals e-mails and phones


def cmd_setup(args) -> int:
    """Set up for development: on the embedded database, missing key files are created."""
    return setup(skip_dbt=args.skip_dbt, create_keys=True)


def setup(*, skip_dbt: bool, create_keys: bool) -> int:
    """Database up and migrated, environment exported, Dagster home and landing folder made, dbt
    manifest prepared (unless ``skip_dbt``). Key files are created only when ``create_keys`` and the
    database is the embedded (development) one; otherwise missing ones are named."""
    from orchestration.db import migrate

    con = console()
    with con.status("starting the database"):
        rt = database_runtime()
    env = apply_env(rt)
    con.print(f"database: {'embedded PostgreSQL at ' + str(rt.pgdata) if rt.embedded else 'DATABASE_URL server'}"
              f" (warehouse {rt.warehouse_db}, dagster {rt.dagster_db})")
    before = migrate.current(rt.warehouse_url)
    with con.status("migrating"):
        migrate.upgrade(rt.warehouse_url)
    con.print(f"schema at revision {migrate.current(rt.warehouse_url)}")
    if create_keys and rt.embedded:
        for kf in keyfiles.create_missing(rt.warehouse_url):
            con.print(f"created {kf.what}: {kf.path} ({kf.variable}; back it up with the other keys)")
    elif create_keys and (gaps := keyfiles.missing()):
        names = ", ".join(kf.variable for kf, _ in gaps)
        con.print(f"[yellow]key files missing ({names}): with DATABASE_URL set, `equity setup` creates no key; "
                  "restore them from the backup of keys, or create them once with `equity keys init`[/yellow]")
    _seal_after_upgrade(rt.warehouse_url, before, con.print)
    ensure_dagster_home()
    from orchestration.core.landing import Landing

    Landing(settings.landing_dir()).ensure()
    if not skip_dbt:
        with con.status("preparing the dbt manifest"):
            prepare_dbt(env)
        con.print("dbt manifest prepared")
    return 0


def cmd_status(args) -> int:
    from orchestration.db import runtime

    info = runtime.status()
    info["landing_dir"] = str(settings.landing_dir())
    info["upload_keys_file"] = str(settings.upload_keys_file())
    info["upload_keys_file_exists"] = settings.upload_keys_file().exists()
    if info.get("running") or info.get("reachable"):
        from orchestration.db import migrate

        rt = database_runtime(create=False)
        try:
            info["schema_revision"] = migrate.current(rt.warehouse_url)
        except Exception as exc:  # noqa: BLE001 - status must always print
            info["schema_revision"] = f"unknown ({type(exc).__name__})"
    console().print_json(json.dumps(info, default=str))
    return 0


def cmd_stop(args) -> int:
    from orchestration.db import runtime

    print("stopped" if runtime.stop() else "embedded PostgreSQL was not running")
    return 0


def cmd_env(args) -> int:
    if args.example:
        sys.stdout.write(settings.env_example())
        return 0
    rt = database_runtime()
    for k, v in rt.env().items():
        print(f"export {k}={json.dumps(v if args.show_secrets else settings.masked(k, v))}")
    return 0


def _seal_after_upgrade(url: str, before: str | None, log) -> None:
    """A warehouse upgraded from before e-mails and phones were sealed: seal what it holds in plain
    text (a migration holds no key, so this runs after it, with the keys of this environment)."""
    from orchestration.db import migrate, store
    from orchestration.privacy import keys

    now = migrate.current(url)
    if before is None or before >= SEALED_PII_REVISION or now is None or now < SEALED_PII_REVISION:
        return
    with store.connect(url, autocommit=True) as conn:
        done = keys.reencrypt(conn, pii.environment_sealer(), log=log)
    log(f"sealed {sum(p.resealed for p in done):,} e-mails and phones an older version stored in plain text")


def cmd_migrate(args) -> int:
    from orchestration.db import migrate

    if args.direction == "down":
        refusal = _downgrade_refusal(args)
        if refusal:
            print(f"equity migrate down: {refusal}", file=sys.stderr)
            return 2
    rt = database_runtime()
    if args.direction == "down":
        migrate.downgrade(rt.warehouse_url, args.revision)
    else:
        before = migrate.current(rt.warehouse_url)
        migrate.upgrade(rt.warehouse_url, args.revision or "head")
        _seal_after_upgrade(rt.warehouse_url, before, print)
    print(f"schema at revision {migrate.current(rt.warehouse_url)}")
    return 0


def _downgrade_refusal(args, stdin=None) -> str | None:
    """Why a downgrade does not run, or None. A downgrade drops what later revisions made (``base``:
    the whole schema and its data), so it needs a named target and a confirmation: ``--yes``, or
    typing the target at a terminal's prompt."""
    if not args.revision:
        return ("name the revision to go down to (e.g. 0017, or base to drop the whole schema); "
                "`equity migrate down` has no default")
    if args.yes:
        return None
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        return f"going down to {args.revision} drops data: add --yes to confirm (stdin is not a terminal)"
    print(f"Going down to {args.revision} drops every table, column and row the later revisions made.")
    print(f"Type {args.revision} to go on: ", end="", flush=True)
    answer = stdin.readline().strip()
    return None if answer == args.revision else f"not confirmed ({answer!r} is not {args.revision!r}); nothing changed"


def cmd_ui(args) -> int:
    """Run `dagster dev` with SIGINT/SIGTERM restored (a backgrounded dagster ignores both)."""
    setup(skip_dbt=False, create_keys=True)
    _ready_to_seal(keyfiles.SERVE, keyfiles.RUNS)
    exe = Path(sys.executable).with_name("dagster")
    proc = subprocess.Popen([str(exe), "dev", "-w", str(settings.REPO_ROOT / "workspace.yaml"),
                             "-h", args.host, "-p", str(args.port)],
                            cwd=dagster_cwd(), preexec_fn=dagster_child_setup)

    def forward(signum, _frame):
        proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return proc.wait()


def cmd_code_server(args) -> int:
    """The code location as its own gRPC process (production: restart it to deploy new code)."""
    prepared(keyfiles.RUNS)
    return run_forwarding([dagster_exe("dagster"), "code-server", "start", "-m", "orchestration.definitions",
                            "-h", args.host, "-p", str(args.port), "--location-name", "equity-connect"])


def cmd_webserver(args) -> int:
    """The Dagster UI alone, loading the code from the code server."""
    prepared()
    host, port = args.code_server.rsplit(":", 1)
    return run_forwarding([dagster_exe("dagster-webserver"), "-w", str(grpc_workspace(host, int(port))),
                            "-h", args.host, "-p", str(args.port)])


def cmd_daemon(args) -> int:
    """The Dagster daemon alone (schedules, sensors, the run queue, run monitoring)."""
    prepared()
    host, port = args.code_server.rsplit(":", 1)
    return run_forwarding([dagster_exe("dagster-daemon"), "run", "-w", str(grpc_workspace(host, int(port)))])


def cmd_demo(args) -> int:
    setup(skip_dbt=False, create_keys=True)
    _ready_to_seal(keyfiles.SERVE, keyfiles.RUNS)
    from orchestration.dev.demo import run_demo

    return run_demo(rows=args.rows)


def _parallel(pytest_args: list[str]) -> list[str]:
    """pytest-xdist options: one worker per core (each with its own databases, landing directory and
    Dagster home, made by the session fixtures), tests that share the project's own state (the
    processes `equity ui` and the production commands start) kept on one worker. Left out when
    the caller chooses (``-n``, ``-p no:xdist``) or asks for one test or a debugger."""
    chosen = {"-n", "--numprocesses", "--pdb", "-x", "--exitfirst", "-pno:xdist"}
    if any(a in chosen or a.startswith(("-n", "--numprocesses=")) for a in pytest_args):
        return []
    if any(a == "-p" and b == "no:xdist" for a, b in zip(pytest_args, pytest_args[1:], strict=False)):
        return []
    if any("::" in a for a in pytest_args):
        return []
    return ["-n", str(max(1, min(os.cpu_count() or 1, 4))), "--dist", "loadgroup"]


def cmd_test(args) -> int:
    setup(skip_dbt=False, create_keys=True)
    code = subprocess.call([sys.executable, "-m", "pytest", *_parallel(args.pytest_args), *args.pytest_args],
                           cwd=settings.REPO_ROOT)
    if code == 5:
        print("pytest collected no tests: that is a failure here", file=sys.stderr)
        return 1
    return code


def prepared(*purposes: str, skip_dbt: bool | None = None) -> None:
    """Database up, environment exported, dbt manifest prepared once; then, for a process that
    holds keys (``purposes``: keyfiles.SERVE, keyfiles.RUNS), its key files present and fitting the
    warehouse — or KeysNotReady. Never creates a key."""
    if skip_dbt is None:
        skip_dbt = (settings.DBT_PROJECT_DIR / "target" / "manifest.json").exists()
    setup(skip_dbt=skip_dbt, create_keys=False)
    if purposes:
        _ready_to_seal(*purposes)


def _ready_to_seal(*purposes: str) -> None:
    keyfiles.require(*purposes)
    keyfiles.check_warehouse(os.environ[settings.WAREHOUSE_URL_VAR])


def register(sub) -> None:
    """Add this group's subcommands to ``equity``'s subparsers."""
    s = sub.add_parser("setup", help="start the database, migrate, prepare dbt; on the embedded database, "
                                     "create missing key files")
    s.add_argument("--skip-dbt", action="store_true", help="do not prepare the dbt manifest")
    s.set_defaults(func=cmd_setup)
    sub.add_parser("status", help="show database, schema and landing status").set_defaults(func=cmd_status)
    sub.add_parser("stop", help="stop the embedded PostgreSQL").set_defaults(func=cmd_stop)
    e = sub.add_parser("env", help="print export lines for Dagster/dbt/psql")
    e.add_argument("--example", action="store_true", help="print .env.example instead: every setting, its "
                                                          "default and meaning (from orchestration/settings.py)")
    e.add_argument("--show-secrets", action="store_true", help="print passwords and API keys as they are "
                                                               "(masked as *** otherwise)")
    e.set_defaults(func=cmd_env)
    m = sub.add_parser("migrate", help="alembic upgrade/downgrade")
    m.add_argument("direction", nargs="?", choices=["up", "down"], default="up", help="migrate up or down")
    m.add_argument("revision", nargs="?", help="target revision (up: default head; down: required, base drops "
                                               "the whole schema)")
    m.add_argument("--yes", action="store_true", help="down: confirm without a prompt (scripts, CI)")
    m.set_defaults(func=cmd_migrate)
    d = sub.add_parser("demo", help="run the main job on bundled sample data and print a summary")
    d.add_argument("--rows", type=int, default=0, help="generate this many rows instead of the bundled file")
    d.set_defaults(func=cmd_demo)
    t = sub.add_parser("test", help="set up and run pytest (no tests collected = failure)")
    t.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest as they are")
    t.set_defaults(func=cmd_test)
    u = sub.add_parser("ui", help="open the Dagster UI (dagster dev)")
    u.add_argument("--host", default="127.0.0.1", help="interface the UI listens on")
    u.add_argument("--port", type=int, default=3000, help="port of the UI")
    u.set_defaults(func=cmd_ui)
    cs = sub.add_parser("code-server", help="production: the code location as its own gRPC process")
    cs.add_argument("--host", default="127.0.0.1", help="interface the code server listens on")
    cs.add_argument("--port", type=int, default=4266, help="port of the code server")
    cs.set_defaults(func=cmd_code_server)
    ws = sub.add_parser("webserver", help="production: the Dagster UI alone, code from the code server")
    ws.add_argument("--host", default="127.0.0.1", help="interface the UI listens on")
    ws.add_argument("--port", type=int, default=3000, help="port of the UI")
    ws.add_argument("--code-server", default="127.0.0.1:4266", help="host:port of `equity code-server`")
    ws.set_defaults(func=cmd_webserver)
    dm = sub.add_parser("daemon", help="production: the Dagster daemon alone (schedules, sensors, run queue)")
    dm.add_argument("--code-server", default="127.0.0.1:4266", help="host:port of `equity code-server`")
    dm.set_defaults(func=cmd_daemon)
