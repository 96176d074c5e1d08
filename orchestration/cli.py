"""``equity``: set up, run and inspect the pipeline from a terminal.

    equity setup            start/attach the database, migrate, prepare dbt, create dev key + landing dir
    equity status           what runs where (database, migrations, landing, keys)
    equity stop             stop the embedded PostgreSQL
    equity env              print the environment the other parts read (export lines)
    equity migrate [up|down] [REV]
    equity demo             the main job on bundled sample data, with a summary
    equity test [PYTEST ARGS]  run the test suite (fails when no test ran)
    equity ui               Dagster UI (database first; Ctrl-C / SIGTERM stop it cleanly)
    equity code-server | webserver | daemon    production: the three Dagster processes, separately
    equity serve            the HTTP app: POST /uploads, POST /events, GET/POST /consent/<token>
    equity upload FILE --source S [--url U]   sign and POST a CSV (what a vendor script runs)
    equity sign FILE --source S                write FILE.sig.json for an SFTP-style drop
    equity ingest UPLOAD_ID | --latest         run the ingest job for one upload, print its counts
    equity brokers FILE                        load/update brokers (upsert by NMLS number)
    equity sql list | show NAME                the database's functions, live, against their files
    equity suppress import FILE --reason R | add | remove | list   the suppression list (DNC files, opt-outs)
    equity erase --email E | --phone P | --lead ID   erase a person on request
    equity keys list | rotate | reencrypt | retire ID   the data keys e-mails and phones are sealed with
    equity report funnel [--days N]            the funnel by day (uploaded ... fed, replied, booked)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from orchestration import constants, settings


def _console():
    from rich.console import Console

    return Console(stderr=False)


def _runtime(create: bool = True):
    from orchestration.db import runtime

    return runtime.bring_up(create=create)


def apply_env(rt) -> dict[str, str]:
    env = rt.env()
    os.environ.update(env)
    return env


def _write_new_secret_file(path: Path, text: str) -> None:
    """A secrets file readable by its owner only (0600, in a 0700 folder); never overwritten."""
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def ensure_key_file() -> Path:
    from orchestration import consent
    from orchestration.events import webhooks

    path = settings.upload_keys_file()
    _write_new_secret_file(path, "# active upload keys, one 'key_id:secret' per line (generated for local use)\n"
                                 f"local-{datetime.now(UTC):%Y%m}:{secrets.token_hex(32)}\n")
    _write_new_secret_file(settings.event_keys_file(),
                           "# event senders, one 'sender:whsec_...' per line (Standard Webhooks secrets; two\n"
                           "# lines for one sender while its secret is rotated). Generated for local use.\n"
                           f"local:{webhooks.new_secret()}\n")
    _write_new_secret_file(settings.form_secret_file(), consent.new_form_secret() + "\n")
    from orchestration import blind_index
    _write_new_secret_file(settings.index_key_file(),
                           "# blind-index key: erasure suppressions are HMACs under it (keep it with the\n"
                           "# database's backups' keys, never in the database). Generated for local use.\n"
                           + blind_index.new_key_text())
    from orchestration import pii
    _write_new_secret_file(settings.pii_keys_file(),
                           "# data keys e-mails and phones are sealed with, one 'key_id:64 hex' per line; the\n"
                           "# last line seals, the others only open (`equity keys rotate|reencrypt|retire`).\n"
                           "# Keep a copy with the backups' keys, never in the database. Generated for local use.\n"
                           + pii.new_key_line(f"k{datetime.now(UTC):%Y%m}"))
    return path


def ensure_dagster_home() -> Path:
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    source = settings.REPO_ROOT / "dagster.yaml"
    if not target.exists() or target.read_text() != source.read_text():
        target.write_text(source.read_text())
    return home


def prepare_dbt(env: dict[str, str]) -> None:
    """Write dbt_project/target/manifest.json (what the code location loads)."""
    subprocess.run([str(settings.dbt_executable()), "parse", "--quiet",
                    "--project-dir", str(settings.DBT_PROJECT_DIR), "--profiles-dir", str(settings.DBT_PROJECT_DIR)],
                   check=True, env={**os.environ, **env})


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
    from orchestration.ingest.landing import Landing

    Landing(settings.landing_dir()).ensure()
    if not args.skip_dbt:
        with con.status("preparing the dbt manifest"):
            prepare_dbt(env)
        con.print("dbt manifest prepared")
    return 0


SEALED_PII_REVISION = "0018"


def cmd_keys(args) -> int:
    from orchestration import keys, pii
    from orchestration.db import store

    path = settings.pii_keys_file()
    try:
        if args.action == "rotate":
            ring = keys.rotate(path, args.id or f"k{datetime.now(UTC):%Y%m%d%H%M%S}")
            print(f"{ring.active_id} is the active key of {path} now (keys: {', '.join(ring.keys)}). Processes "
                  "read the ring when a run or request starts; next: `equity keys reencrypt`")
            return 0
        sealer = settings.sealer()
        rt = _runtime()
        with store.connect(rt.warehouse_url, autocommit=True) as conn:
            if args.action == "reencrypt":
                print(f"re-sealing under {sealer.ring.active_id} in batches of {args.batch:,} (each commits; "
                      "interrupt and run again at any time)")
                done = keys.reencrypt(conn, sealer, batch=args.batch)
                for p in done:
                    print(f"{p.place:38} {p.resealed:>10,} re-sealed" + (f", {p.skipped:,} changed meanwhile "
                                                                          "(run again)" if p.skipped else ""))
                left = {k: n for k, n in keys.usage(conn).items() if k != sealer.ring.active_id}
                print("everything is sealed under the active key" if not left else
                      f"still under other keys: {left} (written meanwhile by a run that started before the "
                      "rotation: run `equity keys reencrypt` again)")
            elif args.action == "retire":
                ring = keys.retire(path, args.id, keys.usage(conn))
                print(f"{args.id} retired; {path} holds {', '.join(ring.keys)} (active {ring.active_id})")
            else:
                used = keys.usage(conn)
                for kid, key in sealer.ring.keys.items():
                    mark = "active" if kid == sealer.ring.active_id else "opens only"
                    print(f"{kid:24} {pii.sha_of_key(key)}  {mark:10} {used.get(kid, 0):>12,} values")
                for kid in sorted(set(used) - set(sealer.ring.keys) - {"(plain)"}):
                    print(f"{kid:24} {'(not in the ring: cannot be opened!)':34} {used[kid]:>12,} values")
                if used.get("(plain)"):
                    print(f"{'(not sealed)':24} {'run `equity keys reencrypt`':34} {used['(plain)']:>12,} values")
    except (pii.KeyRingError, ValueError, OSError) as exc:
        print(f"equity keys: {exc}", file=sys.stderr)
        return 2
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
    rt = _runtime()
    for k, v in rt.env().items():
        print(f"export {k}={json.dumps(v)}")
    return 0


def _seal_after_upgrade(url: str, before: str | None, log) -> None:
    """A warehouse upgraded from before e-mails and phones were sealed: seal what it holds in plain
    text (a migration holds no key, so this runs after it, with the keys of this environment)."""
    from orchestration import keys
    from orchestration.db import migrate, store

    now = migrate.current(url)
    if before is None or before >= SEALED_PII_REVISION or now is None or now < SEALED_PII_REVISION:
        return
    with store.connect(url, autocommit=True) as conn:
        done = keys.reencrypt(conn, settings.sealer(), log=log)
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


def _reset_signals():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


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


def _run_forwarding(cmd: list[str]) -> int:
    """Run a long-lived Dagster process with SIGINT/SIGTERM restored in it and forwarded to it."""
    proc = subprocess.Popen(cmd, cwd=settings.REPO_ROOT, preexec_fn=_reset_signals)

    def forward(signum, _frame):
        proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return proc.wait()


def _prepared() -> None:
    """Database up, environment exported, dbt manifest prepared once."""
    manifest_ready = (settings.DBT_PROJECT_DIR / "target" / "manifest.json").exists()
    cmd_setup(argparse.Namespace(skip_dbt=manifest_ready))


def _grpc_workspace(host: str, port: int) -> Path:
    """A workspace file naming the code server (written into DAGSTER_HOME: generated, not kept)."""
    path = settings.dagster_home() / "workspace.grpc.yaml"
    path.write_text(f"load_from:\n  - grpc_server:\n      host: {host}\n      port: {port}\n"
                    f"      location_name: equity-connect\n")
    return path


def _dagster_exe(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


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


def cmd_serve(args) -> int:
    import uvicorn

    from orchestration.consent_desk import ConsentDesk
    from orchestration.events.receiver import EventReceiver, KeysFile
    from orchestration.ingest import signing
    from orchestration.ingest.http import create_app
    from orchestration.ingest.landing import Landing
    from orchestration.ingest.receipt import Receiver

    cmd_setup(argparse.Namespace(skip_dbt=True))
    # The keys file is re-read whenever it changes: a removed key is refused at once, no restart.
    receiver = Receiver(Landing(settings.landing_dir()), signing.KeyRing.from_env(os.environ),
                        os.environ[settings.WAREHOUSE_URL_VAR], max_bytes=args.max_bytes,
                        max_per_key=args.max_uploads_per_key, body_idle_timeout_s=args.body_timeout)
    events = EventReceiver(KeysFile(settings.event_keys_file()), os.environ[settings.WAREHOUSE_URL_VAR],
                           sealer=settings.sealer())
    desk = ConsentDesk(os.environ[settings.WAREHOUSE_URL_VAR])
    uvicorn.run(create_app(receiver, events, desk), host=args.host, port=args.port, log_level="info")
    return 0


def cmd_upload(args) -> int:
    import httpx

    from orchestration.ingest.client import upload_file

    try:
        status, payload = upload_file(Path(args.file), args.source, args.url)
    except httpx.TransportError as exc:
        print(f"equity upload: cannot reach {args.url} ({type(exc).__name__}): is `equity serve` running "
              "there? (--url or EC_UPLOAD_URL)", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"equity upload: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    print(json.dumps(payload, indent=2))
    return 0 if status == 202 else 1


def cmd_sign(args) -> int:
    from orchestration.ingest import signing
    from orchestration.ingest.client import client_key

    path = Path(args.file)
    headers = signing.sign(path.read_bytes(), source=args.source, key=client_key())
    sidecar = path.with_name(path.name + ".sig.json")
    sidecar.write_text(json.dumps(headers, indent=2))
    print(f"wrote {sidecar}: drop both files into {settings.landing_dir() / 'incoming'} within 5 minutes")
    return 0


def cmd_brokers(args) -> int:
    import csv

    from orchestration.db import store

    rt = _runtime()
    with open(args.file, newline="") as fh, store.connect(rt.warehouse_url) as conn, conn.transaction():
        n = store.upsert_brokers(conn, list(csv.DictReader(fh)))
    print(f"{n} brokers loaded (upserted by nmls_number)")
    return 0


def cmd_suppress(args) -> int:
    import getpass

    from orchestration import blind_index, suppression
    from orchestration.db import store

    rt = _runtime()
    try:
        index = blind_index.load(settings.index_key_file())
    except (OSError, ValueError) as exc:
        print(f"equity suppress: e-mails and phones are listed by their blind index, and the index key "
              f"({settings.index_key_file()}, EC_INDEX_KEY_FILE) cannot be read ({exc}): run `equity setup`",
              file=sys.stderr)
        return 2
    with store.connect(rt.warehouse_url) as conn:
        try:
            if args.action == "import":
                with open(args.file, encoding="utf-8", errors="replace") as fh:
                    r = suppression.import_phones(conn, fh, args.reason, source=f"file:{Path(args.file).name}",
                                                  index=index)
                print(f"{r.lines:,} lines: {r.numbers:,} numbers, {r.not_numbers:,} not phone numbers; "
                      f"{r.added:,} added to the list ({args.reason}), {r.leads_unverified:,} leads' phones "
                      f"no longer verified; {r.seconds:.1f} s")
            elif args.action in ("add", "remove"):
                channel, value = next((c, v) for c, v in (("email", args.email), ("phone", args.phone),
                                                          ("address", args.addr_hash)) if v)
                if args.action == "add":
                    done = suppression.add(conn, channel, value, args.reason, source=f"operator:{getpass.getuser()}",
                                           index=index)
                    print("added" if done else "already on the list")
                else:
                    done = suppression.remove(conn, channel, value, args.reason, who=getpass.getuser(), index=index)
                    print("removed" if done else "not on the list")
            else:
                for channel, reason, n in store.suppression_counts(conn):
                    print(f"{channel:8} {reason:13} {n:>12,}")
                for row in store.latest_suppressions(conn, args.channel, args.reason, args.limit):
                    print("  ".join(str(x) for x in row))
        except (suppression.SuppressionError, StopIteration) as exc:
            print(f"equity suppress: {exc or 'name one of --email, --phone, --addr-hash'}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"equity suppress: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 2
    return 0


def cmd_erase(args) -> int:
    import pandas as pd
    import psycopg

    from orchestration import erasure, pii
    from orchestration.db import store
    from orchestration.ingest import normalize
    from orchestration.ingest.landing import Landing

    email = phone = None
    if args.email is not None:
        email = normalize.email(pd.Series([args.email], dtype="string")).iloc[0]
        if pd.isna(email):
            print(f"equity erase: {args.email!r} is not an e-mail address", file=sys.stderr)
            return 2
    if args.phone is not None:
        phone = normalize.phone_e164(pd.Series([args.phone], dtype="string")).iloc[0]
        if pd.isna(phone):
            print(f"equity erase: {args.phone!r} is not a valid US phone number", file=sys.stderr)
            return 2
    try:
        sealer = settings.sealer()
    except (pii.KeyRingError, ValueError) as exc:
        print(f"equity erase: {exc}", file=sys.stderr)
        return 2
    rt = _runtime()
    try:
        with store.connect(rt.warehouse_url) as conn:
            report = erasure.erase(conn, sealer, Landing(settings.landing_dir()),
                                   settings.outbox_dir(), email=email, phone=phone, lead_id=args.lead)
    except psycopg.errors.InvalidTextRepresentation:
        print(f"equity erase: {args.lead!r} is not a lead id (a UUID)", file=sys.stderr)
        return 2
    print(erasure.summary_text(report))
    for lead_id in report.lead_ids:
        print(f"  lead {lead_id}")
    return 0


def cmd_lead(args) -> int:
    import getpass

    from orchestration import pii
    from orchestration.db import store

    if (args.id is None) == (args.upload is None) or (args.upload is not None and args.row is None):
        print("equity lead show: name a lead id, or --upload ID --row N", file=sys.stderr)
        return 2
    rt = _runtime()
    with store.connect(rt.warehouse_url) as conn:
        if args.upload is not None:
            lead_id = store.lead_for_row(conn, args.upload, args.row)
            if lead_id is None:
                print(f"equity lead: row {args.row} of upload {args.upload} became no lead (rejected, "
                      "not merged yet, or not an upload of this database)", file=sys.stderr)
                return 1
        else:
            lead_id = args.id
        try:
            shown = store.lead_card(conn, lead_id)
        except ValueError:
            print(f"equity lead: {lead_id!r} is not a lead id (a UUID)", file=sys.stderr)
            return 2
    if shown is None:
        print(f"equity lead: no lead {lead_id}", file=sys.stderr)
        return 1
    fields, sources, owners = shown
    # An operator's look at a person: their e-mail and phone are opened, and that is recorded.
    try:
        sealer = settings.sealer()
    except (pii.KeyRingError, ValueError) as exc:
        sealer = None
        print(f"(e-mails and phones stay sealed: {exc})", file=sys.stderr)
    if sealer is not None:
        opened = 0
        for channel in ("email", "phone"):
            if fields.get(channel):
                fields[channel] = sealer.open(channel, fields[channel])
                opened += 1
        owners = [(first, last, sealer.open("email", email), sealer.open("phone", phone), until)
                  for first, last, email, phone, until in owners]
        opened += sum(1 for o in owners for v in o[2:4] if v)
        if opened:
            with store.connect(rt.warehouse_url) as conn, conn.transaction():
                store.record_event(conn, "pii_decrypted", stage="lead_show", row_count=opened,
                                   details={"purpose": "equity lead show", "lead_id": str(fields["id"]),
                                            "values": opened, "by": getpass.getuser()})
    width = max(len(k) for k in fields)
    for k, v in fields.items():
        print(f"{k:<{width}}  {'' if v is None else v}")
    print(f"\nsources ({len(sources)}): upload, row, received")
    for upload_id, row_number, received_at in sources:
        print(f"  {upload_id}  row {row_number}  {received_at:%Y-%m-%d %H:%M:%S %Z}")
    if owners:
        print(f"\nprevious owners ({len(owners)}): name, e-mail, phone, owned until")
        for first, last, email, phone, until in owners:
            print(f"  {first or ''} {last or ''}  {email or '-'}  {phone or '-'}  {until:%Y-%m-%d}")
    return 0


def cmd_report(args) -> int:
    import psycopg

    from orchestration import funnel
    from orchestration.db import store

    rt = _runtime()
    try:
        with store.connect(rt.warehouse_url) as conn:
            rows = funnel.by_day(conn, args.days)
    except psycopg.errors.UndefinedTable:
        print("equity report funnel: funnel_daily is not built yet: run the refresh (`equity demo`, or "
              "contactable_refresh_job in the UI)", file=sys.stderr)
        return 2
    if not rows:
        print(f"no funnel activity in the last {args.days} days")
        return 0
    print(funnel.table(rows))
    return 0


def cmd_demo(args) -> int:
    cmd_setup(argparse.Namespace(skip_dbt=False))
    from orchestration.demo import run_demo

    return run_demo(rows=args.rows)


def cmd_test(args) -> int:
    cmd_setup(argparse.Namespace(skip_dbt=False))
    code = subprocess.call([sys.executable, "-m", "pytest", *args.pytest_args], cwd=settings.REPO_ROOT)
    if code == 5:
        print("pytest collected no tests: that is a failure here", file=sys.stderr)
        return 1
    return code


def _latest_upload(landing) -> str | None:
    found = landing.scan_manifests(0)
    return found[-1][1] if found else None


def cmd_ingest(args) -> int:
    """Run the ingest job for one landed upload, as a run the UI lists and can re-execute."""
    from dagster import DagsterInstance

    from orchestration import launch
    from orchestration.db import store
    from orchestration.ingest import pipeline
    from orchestration.ingest.landing import Landing

    _prepared()
    landing = Landing(settings.landing_dir())
    upload_id = _latest_upload(landing) if args.latest else args.upload_id
    if not upload_id:
        print("equity ingest: no upload has been accepted yet (send one with `equity upload`)", file=sys.stderr)
        return 2
    try:
        manifest = landing.read_manifest(upload_id)
    except FileNotFoundError:
        print(f"equity ingest: no accepted upload {upload_id!r} in {landing.uploads} "
              "(`equity ingest --latest` takes the newest)", file=sys.stderr)
        return 2
    con = _console()
    con.print(f"upload {upload_id}: {manifest.filename}, {manifest.size:,} bytes, profile {manifest.source}")
    with DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("uploads", [upload_id])
        with con.status("launching the ingest_upload run"):
            run_id = launch.launch(instance, "ingest_upload", partition_key=upload_id,
                                   tags={"equity/launched_by": "equity ingest"})
        con.print(f"launched run {run_id}")
        with con.status(f"run {run_id} in progress") as status:
            run = launch.wait(instance, run_id, on_poll=lambda _: status.update(
                f"run {run_id}: {launch.latest_message(instance, run_id)}"))
        failure = launch.failure_message(instance, run_id)
    with store.connect(os.environ[settings.WAREHOUSE_URL_VAR]) as conn:
        summary = store.upload_summary(conn, upload_id)
    staged, validated, merged = (summary.get(k) or {} for k in ("staged", "validated", "merged"))
    rows = [
        ("leads_staging", staged, ("records", "rows", "malformed_rows")),
        ("leads_validated", validated, ("valid", "rejected", "in_file_duplicates", "unique")),
        ("leads", merged, ("inserted", "updated", "unchanged", "conflicts")),
    ]
    from rich.table import Table

    table = Table(title=f"run {run_id}: {run.status.value}")
    table.add_column("stage")
    table.add_column("counts")
    for stage, details, keys in rows:
        table.add_row(stage, ", ".join(f"{k} {int(details[k]):,}" for k in keys if k in details) or "-")
    con.print(table)
    if summary.get("staged"):
        for warning in summary["staged"].get("warnings") or []:
            con.print(f"warning: {warning}")
    if run.status.value == "SUCCESS":
        rec = pipeline.reconcile(summary)
        con.print(f"reconciliation: {rec.accounted:,} of {rec.records:,} records accounted for"
                  + ("" if rec.ok else " — " + "; ".join(rec.problems)))
        return 0
    print(f"equity ingest: the run failed: {failure or 'see the run in the UI'}", file=sys.stderr)
    return 1


def _warehouse_url() -> str:
    """The warehouse this process was pointed at (EC_WAREHOUSE_URL), else the project's own."""
    return os.environ.get(settings.WAREHOUSE_URL_VAR) or _runtime().warehouse_url


def cmd_sql(args) -> int:
    import psycopg

    from orchestration.db import sqlfiles, store

    if args.action == "show" and not args.name:
        print("equity sql show NAME: name a function (see `equity sql list`)", file=sys.stderr)
        return 2
    with psycopg.connect(_warehouse_url()) as conn:
        def live(obj) -> str | None:
            return store.function_definition(conn, obj.schema, obj.function_name)

        if args.action == "list":
            for obj in sqlfiles.objects():
                text = live(obj)
                state = "missing" if text is None else ("matches its file" if text == obj.function_definition
                                                        else "DIFFERS from its file")
                print(f"{obj.name:<28} {obj.path.relative_to(settings.REPO_ROOT)}  {state}")
            return 0
        try:
            obj = sqlfiles.get(args.name)
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return 2
        text = live(obj)
        if text is None:
            print(f"{args.name} is not in the database: run `equity migrate`", file=sys.stderr)
            return 1
        print(text.rstrip("\n"))
        if text != obj.function_definition:
            print(f"-- note: differs from {obj.path.relative_to(settings.REPO_ROOT)}", file=sys.stderr)
    return 0


class _ShowDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in --help, except where there is none to show."""

    def _get_help_string(self, action):
        if action.required or action.default in (None, False, argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="equity", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    _add = sub.add_parser

    def add_parser(name: str, **kwargs):
        # Every subcommand shows its help as its description and its defaults in --help.
        kwargs.setdefault("description", kwargs.get("help"))
        return _add(name, formatter_class=_ShowDefaults, **kwargs)

    sub.add_parser = add_parser
    s = sub.add_parser("setup", help="start the database, migrate, prepare dbt")
    s.add_argument("--skip-dbt", action="store_true", help="do not prepare the dbt manifest")
    s.set_defaults(func=cmd_setup)
    sub.add_parser("status", help="show database, schema and landing status").set_defaults(func=cmd_status)
    sub.add_parser("stop", help="stop the embedded PostgreSQL").set_defaults(func=cmd_stop)
    sub.add_parser("env", help="print export lines for Dagster/dbt/psql").set_defaults(func=cmd_env)
    m = sub.add_parser("migrate", help="alembic upgrade/downgrade")
    m.add_argument("direction", nargs="?", choices=["up", "down"], default="up", help="migrate up or down")
    m.add_argument("revision", nargs="?", help="target revision (default head / base)")
    m.set_defaults(func=cmd_migrate)
    q = sub.add_parser("sql", help="the database's functions: list them, or show one's live definition",
                       description="Every function and trigger has one file under orchestration/db/sql/. "
                                   "`list` shows each with whether the live database matches its file; "
                                   "`show NAME` prints the live definition (pg_get_functiondef).")
    q.add_argument("action", choices=["list", "show"], help="list every function, or show one")
    q.add_argument("name", nargs="?", help="function name, e.g. merge_validated_leads or auth.uid")
    q.set_defaults(func=cmd_sql)
    b = sub.add_parser("brokers", help="load/update brokers from a CSV (company_name, nmls_number, "
                       "license_states, territory_zip_codes as ';' lists, max_leads_per_week)")
    b.add_argument("file", help="brokers CSV (see orchestration/sample_data/brokers.csv)")
    b.set_defaults(func=cmd_brokers)
    sp = sub.add_parser("suppress", help="the suppression list: import a Do-Not-Call file, add, remove, list",
                        description="Everyone on the list is excluded from the contactable view and the feed, "
                                    "on every lead that shares the e-mail, phone or address (Do-Not-Call "
                                    "entries only bar calls: the phone leaves exports). Unsubscribes, "
                                    "complaints, litigators and erasures cannot be removed.")
    spa = sp.add_subparsers(dest="action", required=True)
    si = spa.add_parser("import", help="load a phone list, one number per line (the federal registry's format)",
                        description="Load a phone list, one number per line (the federal registry's format), "
                                    "set-based: lines that are not 10-digit US numbers are counted and skipped.",
                        formatter_class=_ShowDefaults)
    si.add_argument("file", help="the list (10-digit numbers, one per line; millions of lines are fine)")
    si.add_argument("--reason", required=True, choices=["dnc_federal", "dnc_internal"], help="which list it is")
    for name, text in (("add", "put one e-mail, phone or address on the list"),
                       ("remove", "take one entry off the list (DNC and bounce entries only)")):
        sa = spa.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".",
                            formatter_class=_ShowDefaults)
        one = sa.add_mutually_exclusive_group(required=True)
        one.add_argument("--email", help="an e-mail address")
        one.add_argument("--phone", help="a US phone number")
        one.add_argument("--addr-hash", help="a lead's addr_hash (the property)")
        sa.add_argument("--reason", required=True, choices=["unsubscribe", "bounce", "complaint", "dnc_internal",
                                                            "dnc_federal", "litigator", "erasure"],
                        help="why nobody may contact it")
    sl = spa.add_parser("list", help="counts by channel and reason, then the newest entries",
                        description="Counts by channel and reason, then the newest entries.",
                        formatter_class=_ShowDefaults)
    sl.add_argument("--channel", choices=["email", "phone", "address"], help="only this channel")
    sl.add_argument("--reason", help="only this reason")
    sl.add_argument("--limit", type=int, default=20, help="newest entries to show")
    sp.set_defaults(func=cmd_suppress)
    er = sub.add_parser("erase", help="erase a person on request (GDPR/CCPA-style): PII removed everywhere",
                        description="Erase a person: their leads keep only ids and property keys (set "
                                    "do_not_contact), their values leave previous-owner rows, work rows, DLQ "
                                    "payloads, inbound events, exports and landed files; "
                                    "erasure suppressions by blind index (no value stored) keep a later upload "
                                    "from bringing them back. Prints what it removed; running it again removes "
                                    "nothing.")
    who = er.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="the person's e-mail address")
    who.add_argument("--phone", help="the person's phone number (any US format)")
    who.add_argument("--lead", help="a lead id: the person who holds it now")
    er.set_defaults(func=cmd_erase)
    ks = sub.add_parser("keys", help="the PII data keys: list, rotate, reencrypt, retire",
                        description="E-mails and phones are sealed (AES-256-GCM) under the data keys of "
                                    "EC_PII_KEYS_FILE; the last key seals, the others only open. Rotation: "
                                    "`rotate`, then `reencrypt` (resumable, while the pipeline runs), then "
                                    "`retire OLD` (refused while anything is sealed under it).")
    ksa = ks.add_subparsers(dest="action", required=True)

    def key_action(name: str, text: str):
        return ksa.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")

    key_action("list", "each key of the ring: its fingerprint (never the key), active or not, and how many "
                       "values in the warehouse it seals")
    kr = key_action("rotate", "add a new data key to the ring: it seals from the next run on, the others "
                              "only open")
    kr.add_argument("--id", help="the new key's id (letters, digits, '-', '_'; when omitted: k<UTC timestamp>)")
    ke = key_action("reencrypt", "re-seal every value not under the active key (and seal plain values an older "
                                 "version stored), in batches that each commit: resumable, safe while the "
                                 "pipeline runs")
    ke.add_argument("--batch", type=int, default=2000, help="rows per batch, each its own transaction "
                                                            "(default: %(default)s)")
    kt = key_action("retire", "remove a data key from the ring; refused for the active key and while any value "
                              "is sealed under it")
    kt.add_argument("id", help="the key id to retire")
    ks.set_defaults(func=cmd_keys)
    ld = sub.add_parser("lead", help="show a lead with where it came from (its upload rows)",
                        description="Show one lead: its fields, its keys, every upload row that became or "
                                    "merged into it, and its previous owners. Name the lead by id, or by an "
                                    "upload row (--upload ID --row N: which lead did that row become?).")
    lsub = ld.add_subparsers(dest="action", required=True)
    lshow = lsub.add_parser("show", help="print a lead and its sources",
                            description="Print a lead and its sources, by id or by upload row.")
    lshow.add_argument("id", nargs="?", help="the lead's id (a UUID)")
    lshow.add_argument("--upload", help="an upload id (with --row): the lead that row became")
    lshow.add_argument("--row", type=int, help="the row number in that upload (1 = the first data row)")
    ld.set_defaults(func=cmd_lead)
    rp = sub.add_parser("report", help="print a report: the funnel by day",
                        description="The funnel by day from funnel_daily (built by the daily refresh): rows "
                                    "uploaded, new leads, contactable, fed, replied, consented, booked, "
                                    "unsubscribed, bounced, and the reply and booking rates.")
    rp.add_argument("what", choices=["funnel"], help="which report")
    rp.add_argument("--days", type=int, default=14, help="how many days back")
    rp.set_defaults(func=cmd_report)
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
    sv = sub.add_parser("serve", help="run the HTTP app: uploads, signed events, consent links")
    sv.add_argument("--host", default="127.0.0.1", help="interface the endpoint listens on")
    sv.add_argument("--port", type=int, default=8080, help="port of the endpoint")
    sv.add_argument("--max-bytes", type=int, default=constants.MAX_UPLOAD_BYTES,
                    help="largest body accepted (bytes); larger uploads get 413")
    sv.add_argument("--body-timeout", type=float, default=constants.BODY_IDLE_TIMEOUT_S,
                    help="seconds a body may send nothing before it is refused (408)")
    sv.add_argument("--max-uploads-per-key", type=int, default=constants.MAX_UPLOADS_PER_KEY,
                    help="bodies one key may stream at once; more get 429")
    sv.set_defaults(func=cmd_serve)
    up = sub.add_parser("upload", help="sign a CSV and POST it to the upload endpoint")
    up.add_argument("file", help="the CSV to send")
    up.add_argument("--source", required=True, choices=constants.SOURCES, help="the file's column profile")
    up.add_argument("--url", default=os.environ.get("EC_UPLOAD_URL", "http://127.0.0.1:8080"),
                    help="the upload endpoint (EC_UPLOAD_URL); the key comes from EC_UPLOAD_KEY or the local key file")
    up.set_defaults(func=cmd_upload)
    ig = sub.add_parser("ingest", help="run the ingest job for one upload and print its counts",
                        description="Runs ingest_upload for the upload's partition — the job the sensor "
                                    "launches — as a run recorded in the Dagster instance (the UI shows it "
                                    "and can re-execute it). Exits 1 when the run fails.")
    which = ig.add_mutually_exclusive_group(required=True)
    which.add_argument("upload_id", nargs="?", help="an accepted upload id (as `equity upload` printed it)")
    which.add_argument("--latest", action="store_true", help="the newest accepted upload")
    ig.set_defaults(func=cmd_ingest)
    sg = sub.add_parser("sign", help="write FILE.sig.json for a signed drop into the landing directory")
    sg.add_argument("file", help="the CSV to sign")
    sg.add_argument("--source", required=True, choices=constants.SOURCES, help="the file's column profile")
    sg.set_defaults(func=cmd_sign)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
