"""The main job on sample data, end to end and for real: the HTTP endpoint on loopback, a signed
upload through the CLI client, a sensor tick on the Dagster instance (PostgreSQL storage), the
ingest run for the new partition, then dbt build; a summary at the end.

Run it again and the replay guard refuses the same bytes (409); the demo then re-executes that
upload's partition to show that a re-run changes nothing.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from orchestration import settings

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
SAMPLE = settings.SAMPLE_DATA_DIR / "batchdata_sample.csv"
BROKERS = settings.SAMPLE_DATA_DIR / "brokers.csv"


def next_weekday(today: date) -> date:
    day = today + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EndpointThread:
    """uvicorn serving the upload endpoint in a background thread (loopback only)."""

    def __init__(self, app, port: int):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 15
        while not self.server.started and time.time() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


def tick_and_run(instance, defs) -> list[str]:
    """One evaluation of the upload sensor, then execute each run it requested, in process."""
    from dagster import build_sensor_context

    sensor_def = defs.resolve_sensor_def("upload_sensor")
    resources = defs.get_repository_def().get_top_level_resources()
    cursor_key = "demo_upload_sensor_cursor"
    ctx = build_sensor_context(instance=instance, resources={k: resources[k] for k in ("ingest", "warehouse")},
                               cursor=instance.run_storage.get_cursor_values({cursor_key}).get(cursor_key))
    result = sensor_def(ctx)
    requests = getattr(result, "run_requests", None) or []
    for req in getattr(result, "dynamic_partitions_requests", None) or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    if getattr(result, "cursor", None):
        instance.run_storage.set_cursor_values({cursor_key: result.cursor})
    job = defs.resolve_job_def("ingest_upload")
    keys = []
    for req in requests:
        job.execute_in_process(instance=instance, partition_key=req.partition_key, tags=req.tags,
                               run_config=QUIET)
        keys.append(req.partition_key)
    return keys


def run_demo(rows: int = 0) -> int:
    from dagster import DagsterInstance

    from orchestration.cli import upload_file
    from orchestration.db import store
    from orchestration.definitions import defs
    from orchestration.ingest import samples, signing
    from orchestration.ingest.http import create_app
    from orchestration.ingest.landing import Landing
    from orchestration.ingest.receipt import Receiver

    import csv
    from datetime import datetime
    from zoneinfo import ZoneInfo

    con = Console()
    url = os.environ[settings.WAREHOUSE_URL_VAR]
    with store.connect(url) as conn, conn.transaction():
        with BROKERS.open() as fh:
            n_brokers = store.upsert_brokers(conn, list(csv.DictReader(fh)))
    con.print(f"[bold]0.[/] {n_brokers} sample brokers loaded (territories cover the sample ZIPs)")
    sample = SAMPLE
    if rows:
        sample = settings.landing_dir() / ".tmp" / f"generated_{rows}.csv"
        sample.parent.mkdir(parents=True, exist_ok=True)
        sample.write_bytes(samples.to_csv_bytes(samples.generate(rows, seed=int(time.time()))))
    receiver = Receiver(Landing(settings.landing_dir()),
                        signing.load_keys({"EC_UPLOAD_KEYS_FILE": str(settings.upload_keys_file())}), url)
    instance = DagsterInstance.get()
    with EndpointThread(create_app(receiver), _free_port()) as endpoint:
        con.print(f"[bold]1.[/] upload {sample.name} ({sample.stat().st_size:,} bytes) to {endpoint.url}/uploads")
        status, payload = upload_file(Path(sample), "batchdata", endpoint.url)
        con.print(f"   → {status} {payload.get('code')}: {payload.get('message')}")
    if status == 202:
        con.print("[bold]2.[/] sensor tick on the Dagster instance, then the ingest run")
        keys = tick_and_run(instance, defs)
        if not keys:
            con.print("[red]the sensor requested no run[/]")
            return 1
        upload_id = keys[0]
    elif status == 409:
        import hashlib

        with store.connect(url) as conn:
            upload_id = store.upload_for_content(conn, hashlib.sha256(sample.read_bytes()).hexdigest())
        con.print(f"[bold]2.[/] already ingested as {upload_id}: re-executing its partition (must change nothing)")
        defs.resolve_job_def("ingest_upload").execute_in_process(instance=instance, partition_key=upload_id,
                                                             run_config=QUIET)
    else:
        return 1
    con.print("[bold]3.[/] dbt build: scores, contactable view (the 05:30 refresh job)")
    defs.resolve_job_def("contactable_refresh_job").execute_in_process(instance=instance, run_config=QUIET)
    feed_day = next_weekday(datetime.now(ZoneInfo("America/Los_Angeles")).date())
    con.print(f"[bold]4.[/] campaign feed for the next weekday, {feed_day} (the 06:00 job)")
    feed_run = defs.resolve_job_def("campaign_feed_job").execute_in_process(
        instance=instance, partition_key=feed_day.isoformat(), run_config=QUIET)
    feed_meta = {}
    for mat in feed_run.asset_materializations_for_node("campaign_feed"):
        feed_meta = {k: v.value for k, v in mat.metadata.items()}

    with store.connect(url) as conn:
        events = store.upload_summary(conn, upload_id)
        totals = store.lead_totals(conn)
    staged, validated, merged = events.get("staged", {}), events.get("validated", {}), events.get("merged", {})
    table = Table(title=f"upload {upload_id}")
    table.add_column("measure")
    table.add_column("rows", justify="right")
    for label, value in [
        ("rows in", staged.get("rows")), ("malformed rows", staged.get("malformed_rows")),
        ("rejected (DLQ)", validated.get("rejected")), ("in-file duplicates", validated.get("in_file_duplicates")),
        ("new leads", merged.get("inserted")), ("merged into existing", merged.get("updated")),
        ("unchanged", merged.get("unchanged")), ("key conflicts", merged.get("conflicts")),
        ("leads in total", totals["leads"]), ("with a verified channel", totals["verified"]),
        ("contactable (mv_contactable_leads)", totals["contactable"]),
        (f"fed for {feed_day} (this run)", feed_meta.get("fed")),
        (f"fed for {feed_day} (cap {feed_meta.get('daily_cap', 250)})", feed_meta.get("fed_for_date")),
    ]:
        table.add_row(label, f"{value:,}" if isinstance(value, int) else str(value))
    con.print(table)
    if feed_meta.get("shortfall"):
        con.print(f"feed shortfall: {feed_meta.get('shortfall_reason')}")
    if feed_meta.get("export"):
        con.print(f"campaign export: {feed_meta['export']}")
    return 0
