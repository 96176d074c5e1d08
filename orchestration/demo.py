"""The main job on sample data, end to end and for real: the HTTP endpoint on loopback, a signed
upload through the CLI client, a sensor tick on the Dagster instance (PostgreSQL storage), the
ingest run for the new partition, then dbt build; a summary at the end.

Run it again and the replay guard refuses the same bytes (409); the demo then re-executes that
upload's partition to show that a re-run changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import os
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from orchestration import constants, local_runs, settings

SAMPLE = settings.SAMPLE_DATA_DIR / "batchdata_sample.csv"
BROKERS = settings.SAMPLE_DATA_DIR / "brokers.csv"
SENSOR_CURSOR_FILE = ".demo_sensor_cursor"  # in the landing dir: the demo's sensor keeps its place


def next_weekday(today: date) -> date:
    day = today + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def tick_and_run(instance, defs) -> list[str]:
    """One evaluation of the upload sensor, then each run it requested, in this process."""
    cursor_file = settings.landing_dir() / SENSOR_CURSOR_FILE
    tick = local_runs.tick_sensor(defs, instance, "upload_sensor",
                                  cursor=cursor_file.read_text() if cursor_file.exists() else None)
    if tick.cursor:
        cursor_file.write_text(tick.cursor)
    for req in tick.run_requests:
        local_runs.run_job(defs, instance, "ingest_upload", partition_key=req.partition_key, tags=req.tags)
    return [req.partition_key for req in tick.run_requests]


def run_demo(rows: int = 0) -> int:
    from dagster import DagsterInstance

    from orchestration.db import store
    from orchestration.definitions import load
    from orchestration.ingest import samples, signing
    from orchestration.ingest.client import upload_file
    from orchestration.ingest.http import create_app
    from orchestration.ingest.landing import Landing
    from orchestration.ingest.receipt import Receiver

    defs = load()
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
    with local_runs.EndpointThread(create_app(receiver)) as endpoint:
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
        with store.connect(url) as conn:
            upload_id = store.upload_for_content(conn, hashlib.sha256(sample.read_bytes()).hexdigest())
        con.print(f"[bold]2.[/] already ingested as {upload_id}: re-executing its partition (must change nothing)")
        local_runs.run_job(defs, instance, "ingest_upload", partition_key=upload_id)
    else:
        return 1
    con.print("[bold]3.[/] dbt build: scores, contactable view (the 05:30 refresh job)")
    local_runs.run_job(defs, instance, "contactable_refresh_job")
    feed_day = next_weekday(datetime.now(ZoneInfo(constants.TIMEZONE)).date())
    con.print(f"[bold]4.[/] campaign feed for the next weekday, {feed_day} (the 06:00 job)")
    feed_run = local_runs.run_job(defs, instance, "campaign_feed_job", partition_key=feed_day.isoformat())
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
        (f"fed for {feed_day} (cap {feed_meta.get('daily_cap', constants.DAILY_FEED_CAP)})", feed_meta.get("fed_for_date")),
    ]:
        table.add_row(label, f"{value:,}" if isinstance(value, int) else str(value))
    con.print(table)
    if feed_meta.get("shortfall"):
        con.print(f"feed shortfall: {feed_meta.get('shortfall_reason')}")
    if feed_meta.get("export"):
        con.print(f"campaign export: {feed_meta['export']}")
    return 0
