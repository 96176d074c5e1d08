"""Uploads: the HTTP doors (serve), sending and signing files, brokers, running one upload's ingest."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from orchestration import settings
from orchestration.cli.common import _console, _runtime
from orchestration.cli.system import _prepared, cmd_setup
from orchestration.privacy import pii


def cmd_serve(args) -> int:
    import uvicorn

    from orchestration.campaign.consent_desk import ConsentDesk
    from orchestration.core.landing import Landing
    from orchestration.events.receiver import EventReceiver, KeysFile
    from orchestration.ingest import signing
    from orchestration.ingest.receipt import Receiver
    from orchestration.web.app import create_app

    cmd_setup(argparse.Namespace(skip_dbt=True))
    # The keys file is re-read whenever it changes: a removed key is refused at once, no restart.
    receiver = Receiver(Landing(settings.landing_dir()), signing.KeyRing.from_env(os.environ),
                        os.environ[settings.WAREHOUSE_URL_VAR], max_bytes=args.max_bytes,
                        max_per_key=args.max_uploads_per_key, body_idle_timeout_s=args.body_timeout)
    events = EventReceiver(KeysFile(settings.event_keys_file()), os.environ[settings.WAREHOUSE_URL_VAR],
                           sealer=pii.environment_sealer())
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
