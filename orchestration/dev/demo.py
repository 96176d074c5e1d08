"""The main job on sample data, end to end and for real: the HTTP endpoint on loopback, a signed
upload through the CLI client, a sensor tick on the Dagster instance (PostgreSQL storage), the
ingest run for the new partition, then dbt build and the feed; then the loop closes: a few signed
events (a reply, a booking, an unsubscribe) and one consent given through its link, on the same
app, and a second refresh so the funnel shows them; a summary at the end.

Run it again and the replay guard refuses the same bytes (409); the demo then re-executes that
upload's partition to show that a re-run changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from orchestration import constants, settings
from orchestration.campaign import feeder
from orchestration.runs import launch, local_runs

SAMPLE = settings.SAMPLE_DATA_DIR / "batchdata_sample.csv"
BROKERS = settings.SAMPLE_DATA_DIR / "brokers.csv"
SENSOR_CURSOR_FILE = ".demo_sensor_cursor"  # in the landing dir: the demo's sensor keeps its place


def next_feed_day(today: date, holidays: str = "") -> date:
    """The next day the feeder feeds: a weekday that is not a configured holiday."""
    day = today + timedelta(days=1)
    while not feeder.is_feed_day(day, holidays)[0]:
        day += timedelta(days=1)
    return day


def tick(instance, defs):
    """One evaluation of the upload sensor (its cursor kept beside the landing directory)."""
    cursor_file = settings.landing_dir() / SENSOR_CURSOR_FILE
    result = local_runs.tick_sensor(defs, instance, "upload_sensor",
                                    cursor=cursor_file.read_text() if cursor_file.exists() else None)
    if result.cursor:
        cursor_file.write_text(result.cursor)
    return result


DEMO_COST = "1500"     # what the sample list "cost": the vendors report divides it by its bookings


def forged_upload(url: str, body: bytes):
    """The sample sent as a stranger would: the right key id, a wrong secret (the door refuses it
    before reading the body, and records the refusal)."""
    import httpx

    from orchestration.ingest import signing
    from orchestration.ingest.client import client_key

    fake = signing.SigningKey(client_key().key_id, b"not-the-shared-secret-" + os.urandom(8).hex().encode())
    headers = {**signing.sign(body, source="batchdata", key=fake), "Content-Type": "text/csv"}
    return httpx.post(url.rstrip("/") + "/uploads", content=body, headers=headers, timeout=60)


def run_and_wait(con, instance, go, job: str, *, partition_key: str | None = None, tags=None):
    """Launch a run as the UI would (re-executable there, on its timeline) and wait for it."""
    run_id = go(job, partition_key=partition_key, tags={**(tags or {}), "equity/launched_by": "equity demo"})
    with con.status(f"   {job} run {run_id}") as status:
        run = launch.wait(instance, run_id, on_poll=lambda _: status.update(
            f"   {job}: {launch.latest_message(instance, run_id)}"))
    if run.status.value != "SUCCESS":
        con.print(f"[red]   {job} run {run_id} failed: {launch.failure_message(instance, run_id)}[/]")
        return None
    con.print(f"   run {run_id}: {run.status.value}")
    return run_id


def run_demo(rows: int = 0) -> int:
    from dagster import DagsterInstance

    from orchestration.db import store
    from orchestration.definitions import load
    from orchestration.core.files import write_atomic
    from orchestration.dev import samples
    from orchestration.ingest import signing
    from orchestration.ingest.client import upload_file
    from orchestration.web.app import environment_app

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
        sample.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # generated people, but shaped like real ones: private like every file in the landing area
        write_atomic(sample, samples.to_csv_bytes(samples.generate(rows, seed=int(time.time()))))
    app = environment_app(url, upload_keys=signing.load_keys({"EC_UPLOAD_KEYS_FILE": str(settings.upload_keys_file())}))
    instance = DagsterInstance.get()
    with local_runs.EndpointThread(app) as endpoint:
        con.print(f"[bold]1.[/] upload {sample.name} ({sample.stat().st_size:,} bytes, bought for ${DEMO_COST}) "
                  f"to {endpoint.url}/uploads")
        status, payload = upload_file(Path(sample), "batchdata", endpoint.url, cost_usd=DEMO_COST)
        con.print(f"   → {status} {payload.get('code')}: {payload.get('message')}")
        forged = forged_upload(endpoint.url, sample.read_bytes())
        con.print(f"   a copy signed with a wrong secret → {forged.status_code} {forged.json().get('code')} "
                  "(refused and recorded: `equity report errors`)")
    if status not in (202, 409):
        return 1
    return _run_jobs(con, instance, defs, url, sample, status)


def _run_jobs(con, instance, defs, url: str, sample: Path, status: int) -> int:
    """The ingest, refresh and feed runs, launched from the code location as the UI launches them
    (so the UI lists them on its timeline and can re-execute them)."""
    from orchestration.db import store

    with launch.launcher(instance) as go:
        if status == 202:
            con.print("[bold]2.[/] sensor tick on the Dagster instance, then the ingest run it requests")
            requests = tick(instance, defs).run_requests
            if not requests:
                con.print("[red]the sensor requested no run[/]")
                return 1
            upload_id = requests[0].partition_key
            if not run_and_wait(con, instance, go, "ingest_upload", partition_key=upload_id, tags=requests[0].tags):
                return 1
        else:
            with store.connect(url) as conn:
                upload_id = store.upload_for_content(conn, hashlib.sha256(sample.read_bytes()).hexdigest())
            con.print(f"[bold]2.[/] already ingested as {upload_id}: re-running its partition (must change nothing: "
                      "its inputs are as they were at its merge, so each stage says so and skips its work; "
                      "a run tagged equity/reprocess=true runs it in full)")
            if not run_and_wait(con, instance, go, "ingest_upload", partition_key=upload_id):
                return 1
        con.print("[bold]3.[/] dbt build: scores, contactable view (the 05:30 refresh job)")
        if not run_and_wait(con, instance, go, "contactable_refresh_job"):
            return 1
        feed_day = next_feed_day(datetime.now(ZoneInfo(constants.TIMEZONE)).date(),
                                 os.environ.get("EC_FEED_HOLIDAYS", ""))
        con.print(f"[bold]4.[/] campaign feed for the next weekday, {feed_day} (the 06:00 job)")
        feed_run = run_and_wait(con, instance, go, "campaign_feed_job", partition_key=feed_day.isoformat())
        if not feed_run:
            return 1
        feed_meta = launch.materialization_metadata(instance, feed_run, "campaign_feed")
        if feed_meta.get("export"):
            con.print("[bold]5.[/] replies come back: signed events and a consent through its link")
            for line in close_the_loop(url, Path(str(feed_meta["export"]))):
                con.print(f"   {line}")
            con.print("[bold]6.[/] refresh again: the funnel now shows them")
            if not run_and_wait(con, instance, go, "contactable_refresh_job"):
                return 1
    return _summary(con, url, upload_id, feed_day, feed_meta)


def close_the_loop(url: str, export: Path) -> list[str]:
    """Signed events for four fed leads (reply + booking, reply, unsubscribe, a reply that says
    "please stop": a revocation) and one consent given through its link, all through the real app
    on loopback. Returns what happened."""
    import uuid

    import httpx

    from orchestration.events import webhooks
    from orchestration.events.receiver import KeysFile
    from orchestration.web.app import environment_app

    with export.open(newline="") as fh:
        rows = list(csv.DictReader(fh))[:4]
    keys = KeysFile(settings.event_keys_file())
    sender = keys.secrets()[0]
    app = environment_app(url, upload_keys=[])
    now = datetime.now(ZoneInfo("UTC")).isoformat()
    plan = [("reply", 0, "Tell me more"), ("booked", 0, None), ("reply", 1, "Yes, call me"),
            ("unsubscribe", 2, None), ("reply", 3, "Please stop emailing me.")]
    out = []
    with local_runs.EndpointThread(app) as ep:
        for kind, i, text in plan:
            if i >= len(rows):
                continue
            data = {"source": "equity demo", **({"text": text} if text else {})}
            body = json.dumps({"type": kind, "occurred_at": now, "email": rows[i]["email"], "data": data}).encode()
            headers = webhooks.headers_for(sender.key, f"demo_{uuid.uuid4().hex}", body)
            resp = httpx.post(f"{ep.url}/events", content=body, headers=headers, timeout=10)
            said = f" ({text!r})" if text else ""
            out.append(f"{kind:<11} for lead {i + 1}{said} -> {resp.status_code} {resp.json().get('status')}")
        if len(rows) > 1:
            link = rows[1]["consent_url"]
            local = ep.url + link[link.index("/consent/"):]
            page = httpx.get(local, timeout=10)
            given = httpx.post(local, data={"agree": "yes"}, timeout=10)
            out.append(f"consent    for lead 2 -> page {page.status_code}, agreed {given.status_code}")
    return out


def _summary(con, url: str, upload_id: str, feed_day, feed_meta: dict) -> int:
    from orchestration.db import store

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
    from orchestration.campaign import funnel

    with store.connect(url) as conn:
        rows = funnel.by_day(conn, 14)
        held = funnel.held_back(conn)
    if rows:
        con.print("funnel (equity report funnel):")
        con.print(funnel.table(rows), markup=False, highlight=False, soft_wrap=True)
    con.print(funnel.held_back_text(held), markup=False, highlight=False)
    with store.connect(url) as conn:
        revoked = conn.execute("SELECT count(*) FROM suppressions WHERE reason = 'revoked'").fetchone()[0]
    if revoked:
        con.print(f"revoked by reply: {revoked} e-mail/phone suppression(s) (a reply that said stop)")
    con.print("one person's whole record: .venv/bin/equity lead audit --email ADDRESS (or --lead ID)",
              markup=False, highlight=False)
    con.print("the dashboards (charts in the UI's `dashboards` group): .venv/bin/equity report "
              "uploads | brokers | verification | errors | scores | vendors [--json | --csv]",
              markup=False, highlight=False)
    return 0
