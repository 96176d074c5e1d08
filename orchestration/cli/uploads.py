"""Uploads: the HTTP doors (serve), sending and signing files, brokers, running one upload's ingest."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from orchestration import constants, settings
from orchestration.cli.common import add_json_flag, console, database_runtime, emit_json
from orchestration.cli.system import prepared
from orchestration.ops import keyfiles


def cmd_serve(args) -> int:
    import uvicorn

    from orchestration.web.app import environment_app, log_config

    prepared(keyfiles.SERVE, skip_dbt=True)
    # The keys files are re-read whenever they change: a removed key is refused at once, no restart.
    app = environment_app(os.environ[settings.WAREHOUSE_URL_VAR], max_bytes=args.max_bytes,
                          max_per_key=args.max_uploads_per_key, body_idle_timeout_s=args.body_timeout)
    # The access log stays on, with capability paths (consent tokens) redacted.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", log_config=log_config())
    return 0


def cmd_upload(args) -> int:
    import httpx

    from orchestration.ingest.client import upload_file

    try:
        status, payload = upload_file(Path(args.file), args.source, args.url, cost_usd=args.cost)
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
    if args.cost is not None:
        headers[signing.H_COST] = args.cost
    sidecar = path.with_name(path.name + ".sig.json")
    sidecar.write_text(json.dumps(headers, indent=2))
    print(f"wrote {sidecar}: drop both files into {settings.landing_dir() / 'incoming'} within 5 minutes")
    return 0


def cmd_brokers(args) -> int:
    import csv

    from orchestration.db import store

    rt = database_runtime()
    with open(args.file, newline="") as fh, store.connect(rt.warehouse_url) as conn, conn.transaction():
        n = store.upsert_brokers(conn, list(csv.DictReader(fh)))
    print(f"{n} brokers loaded (upserted by nmls_number)")
    return 0


def _latest_upload(landing) -> str | None:
    found = landing.scan_manifests(0)
    return found[-1][1] if found else None


def cmd_ingest(args) -> int:
    """Run the ingest job for one landed upload, as a run the UI lists and can re-execute."""
    from dagster import DagsterInstance

    from orchestration.core.landing import Landing
    from orchestration.db import store
    from orchestration.ingest import pipeline
    from orchestration.runs import launch

    prepared(keyfiles.RUNS)
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
    con = console(stderr=args.json)
    con.print(f"upload {upload_id}: {manifest.filename}, {manifest.size:,} bytes, profile {manifest.source}")
    with DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("uploads", [upload_id])
        try:
            with con.status("launching the ingest_upload run") as status:
                run_id = launch.launch(instance, "ingest_upload", partition_key=upload_id,
                                       tags={"equity/launched_by": "equity ingest"}, slot_timeout_s=args.wait_timeout,
                                       on_wait=lambda full: status.update(
                                           f"waiting for the run queue ({'; '.join(full)})"))
            con.print(f"launched run {run_id}")
            with con.status(f"run {run_id} in progress") as status:
                run = launch.wait(instance, run_id, timeout_s=args.wait_timeout, on_poll=lambda _: status.update(
                    f"run {run_id}: {launch.latest_message(instance, run_id)}"))
        except TimeoutError as exc:
            print(f"equity ingest: {exc}", file=sys.stderr)
            return 1
        failure = launch.failure_message(instance, run_id)
    with store.connect(os.environ[settings.WAREHOUSE_URL_VAR]) as conn:
        summary = store.upload_summary(conn, upload_id)
    staged, validated, merged = (summary.get(k) or {} for k in ("staged", "validated", "merged"))
    if args.json:
        rec = pipeline.reconcile(summary) if run.status.value == "SUCCESS" else None
        emit_json({"upload_id": upload_id, "file": manifest.filename, "bytes": manifest.size,
                   "profile": manifest.source, "run_id": run_id, "status": run.status.value,
                   "stages": {"leads_staging": staged, "leads_validated": validated, "leads": merged},
                   "warnings": (staged or {}).get("warnings") or [],
                   "reconciliation": None if rec is None else {"records": rec.records, "accounted": rec.accounted, "parts": rec.parts,
                                                               "ok": rec.ok, "problems": list(rec.problems)},
                   "failure": None if run.status.value == "SUCCESS" else (failure or "see the run in the UI")})
        if run.status.value == "SUCCESS":
            return 0
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


def register(sub) -> None:
    """Add this group's subcommands to ``equity``'s subparsers."""
    b = sub.add_parser("brokers", help="load/update brokers from a CSV (company_name, nmls_number, "
                       "license_states, territory_zip_codes as ';' lists, max_leads_per_week)")
    b.add_argument("file", help="brokers CSV (see orchestration/sample_data/brokers.csv)")
    b.set_defaults(func=cmd_brokers)
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
    up.add_argument("--url", default=settings.value("EC_UPLOAD_URL"),
                    help="the upload endpoint (EC_UPLOAD_URL); the key comes from EC_UPLOAD_KEY or the local key file")
    up.add_argument("--cost", metavar="USD", help="what the list cost, in dollars (e.g. 1500): the vendor-ROI "
                                                  "dashboard divides it by the bookings the list produced")
    up.set_defaults(func=cmd_upload)
    ig = sub.add_parser("ingest", help="run the ingest job for one upload and print its counts",
                        description="Runs ingest_upload for the upload's partition — the job the sensor "
                                    "launches — as a run recorded in the Dagster instance (the UI shows it "
                                    "and can re-execute it). Exits 1 when the run fails.")
    which = ig.add_mutually_exclusive_group(required=True)
    which.add_argument("upload_id", nargs="?", help="an accepted upload id (as `equity upload` printed it)")
    which.add_argument("--latest", action="store_true", help="the newest accepted upload")
    add_json_flag(ig)
    ig.add_argument("--wait-timeout", type=float, default=3600.0, metavar="SECONDS",
                    help="give up waiting (for the run queue's slot, then for the run) after this long; "
                         "a run already started goes on")
    ig.set_defaults(func=cmd_ingest)
    sg = sub.add_parser("sign", help="write FILE.sig.json for a signed drop into the landing directory")
    sg.add_argument("file", help="the CSV to sign")
    sg.add_argument("--source", required=True, choices=constants.SOURCES, help="the file's column profile")
    sg.add_argument("--cost", metavar="USD", help="what the list cost, in dollars (kept in the sidecar)")
    sg.set_defaults(func=cmd_sign)
