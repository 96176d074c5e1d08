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
from orchestration.cli.common import (
    _console,
    _dagster_exe,
    _grpc_workspace,
    _reset_signals,
    _run_forwarding,
    _runtime,
    apply_env,
    ensure_dagster_home,
    ensure_key_file,
    prepare_dbt,
)
from orchestration.privacy import pii


SEALED_PII_REVISION = "0018"   # the revision that seals e-mails and phones


def cmd_setup(args) -> int:
    from orchestration.db import migrate

    con = _console()
    with con.status("starting the database"):
        rt = _runtime()
    env = apply_env(rt)
    con.print(f"database: {'embedded PostgreSQL at ' + str(rt.pgdata) if rt.embedded else 'DATABASE_URL server'}"
              f" (warehouse {rt.warehouse_db}, dagster {rt.dagster_db})")
    before = migrate.current(rt.warehouse_url)
    with con.status("migrating"):
        migrate.upgrade(rt.warehouse_url)
    con.print(f"schema at revision {migrate.current(rt.warehouse_url)}")
    ensure_key_file()
    _seal_after_upgrade(rt.warehouse_url, before, con.print)
    ensure_dagster_home()
    from orchestration.core.landing import Landing

    Landing(settings.landing_dir()).ensure()
    if not args.skip_dbt:
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

        rt = _runtime(create=False)
        try:
            info["schema_revision"] = migrate.current(rt.warehouse_url)
        except Exception as exc:  # noqa: BLE001 - status must always print
            info["schema_revision"] = f"unknown ({type(exc).__name__})"
    _console().print_json(json.dumps(info, default=str))
    return 0


def cmd_stop(args) -> int:
    from orchestration.db import runtime

    print("stopped" if runtime.stop() else "embedded PostgreSQL was not running")
    return 0


def cmd_env(args) -> int:
    if args.example:
        sys.stdout.write(settings.env_example())
        return 0
    rt = _runtime()
    for k, v in rt.env().items():
        print(f"export {k}={json.dumps(v)}")
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

    rt = _runtime()
    if args.direction == "down":
        migrate.downgrade(rt.warehouse_url, args.revision or "base")
    else:
        before = migrate.current(rt.warehouse_url)
        migrate.upgrade(rt.warehouse_url, args.revision or "head")
        ensure_key_file()
        _seal_after_upgrade(rt.warehouse_url, before, print)
    print(f"schema at revision {migrate.current(rt.warehouse_url)}")
    return 0


def cmd_ui(args) -> int:
    """Run `dagster dev` with SIGINT/SIGTERM restored (a backgrounded dagster ignores both)."""
    cmd_setup(argparse.Namespace(skip_dbt=False))
    exe = Path(sys.executable).with_name("dagster")
    proc = subprocess.Popen([str(exe), "dev", "-w", str(settings.REPO_ROOT / "workspace.yaml"),
                             "-h", args.host, "-p", str(args.port)],
                            cwd=settings.REPO_ROOT, preexec_fn=_reset_signals)

    def forward(signum, _frame):
        proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return proc.wait()


def cmd_code_server(args) -> int:
    """The code location as its own gRPC process (production: restart it to deploy new code)."""
    _prepared()
    return _run_forwarding([_dagster_exe("dagster"), "code-server", "start", "-m", "orchestration.definitions",
                            "-h", args.host, "-p", str(args.port), "--location-name", "equity-connect"])


def cmd_webserver(args) -> int:
    """The Dagster UI alone, loading the code from the code server."""
    _prepared()
    host, port = args.code_server.rsplit(":", 1)
    return _run_forwarding([_dagster_exe("dagster-webserver"), "-w", str(_grpc_workspace(host, int(port))),
                            "-h", args.host, "-p", str(args.port)])


def cmd_daemon(args) -> int:
    """The Dagster daemon alone (schedules, sensors, the run queue, run monitoring)."""
    _prepared()
    host, port = args.code_server.rsplit(":", 1)
    return _run_forwarding([_dagster_exe("dagster-daemon"), "run", "-w", str(_grpc_workspace(host, int(port)))])


def cmd_demo(args) -> int:
    cmd_setup(argparse.Namespace(skip_dbt=False))
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
    cmd_setup(argparse.Namespace(skip_dbt=False))
    code = subprocess.call([sys.executable, "-m", "pytest", *_parallel(args.pytest_args), *args.pytest_args],
                           cwd=settings.REPO_ROOT)
    if code == 5:
        print("pytest collected no tests: that is a failure here", file=sys.stderr)
        return 1
    return code


def _prepared() -> None:
    """Database up, environment exported, dbt manifest prepared once."""
    manifest_ready = (settings.DBT_PROJECT_DIR / "target" / "manifest.json").exists()
    cmd_setup(argparse.Namespace(skip_dbt=manifest_ready))
