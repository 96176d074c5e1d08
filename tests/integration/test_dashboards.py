"""The dashboards on a real day: the bundled sample list uploaded through the door with its cost,
ingested, refreshed, fed, answered (replies, a booking, bounces, a complaint), a refused upload
and rejected rows for the error trend; then the refresh's dbt marts (their dbt tests included), the
`dashboards` group's charts (real PNGs), tables and figures, `equity report NAME` as text, JSON and
CSV, and the sensor that rebuilds the dashboards after each ingest."""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from datetime import UTC, datetime

import dagster as dg
import httpx
import psycopg
import pytest

from orchestration import cli
from orchestration.campaign.dashboards import REPORTS
from orchestration.db import store
from orchestration.events import webhooks
from orchestration.ingest import signing
from orchestration.settings import REPO_ROOT
from tests.support.apps import SECRET
from tests.support.feeds import FRIDAY, feed_meta
from tests.support.stack import run_ingest, run_job, scalar, signing_key

SAMPLE = REPO_ROOT / "orchestration" / "sample_data" / "batchdata_sample.csv"
BROKERS = REPO_ROOT / "orchestration" / "sample_data" / "brokers.csv"


def post_event(ep, kind: str, email: str, **data) -> None:
    body = json.dumps({"type": kind, "occurred_at": datetime.now(UTC).isoformat(), "email": email,
                       "data": data}).encode()
    r = httpx.post(f"{ep.url}/events", content=body, timeout=10,
                   headers=webhooks.headers_for(webhooks.decode_secret(SECRET), f"m_{uuid.uuid4().hex}", body))
    assert r.status_code == 200, r.text


def upload(door, body: bytes, *, cost: str | None = None, source: str = "batchdata") -> httpx.Response:
    headers = {**signing.sign(body, source=source, key=signing_key()), "Content-Type": "text/csv"}
    if cost is not None:
        headers[signing.H_COST] = cost
    return httpx.post(door.url + "/uploads", content=body, headers=headers, timeout=60)


@pytest.fixture
def day(db, door, events, instance, defs):
    with psycopg.connect(db) as conn, conn.transaction():
        with BROKERS.open() as fh:
            store.upsert_brokers(conn, list(csv.DictReader(fh)))
    resp = upload(door, SAMPLE.read_bytes(), cost="1,500")
    assert resp.status_code == 202, resp.text
    uid = resp.json()["upload_id"]
    instance.add_dynamic_partitions("uploads", [uid])
    ingest = run_ingest(defs, instance, uid)
    # a second list with rows the validation rejects (no address, no keys): the error trend
    bad = b"Address,City,State,Zip,Owner 1 First Name,Email 1\n,,,,Ann,ann@example.com\n,,,,Bob,bob@example.com\n" \
          b"12 Elm St,Los Angeles,CA,90001,Cy,cy@example.com\n"
    resp = upload(door, bad, source="propstream")
    assert resp.status_code == 202, resp.text
    bad_uid = resp.json()["upload_id"]
    instance.add_dynamic_partitions("uploads", [bad_uid])
    run_ingest(defs, instance, bad_uid, raise_on_error=False)
    # a refused upload: a cost that is not an amount
    assert upload(door, b"Address\n1 Main St\n", cost="lots").status_code == 400
    assert run_job(defs, instance, "contactable_refresh_job").success
    fed = feed_meta(run_job(defs, instance, "campaign_feed_job", FRIDAY))
    with open(fed["export"], newline="") as fh:
        emails = [r["email"] for r in csv.DictReader(fh)]
    post_event(events, "reply", emails[0])
    post_event(events, "booked", emails[0])
    post_event(events, "reply", emails[1])
    post_event(events, "bounce", emails[2])
    post_event(events, "complaint", emails[3])
    result = run_job(defs, instance, "contactable_refresh_job")
    return {"uid": uid, "bad_uid": bad_uid, "fed": fed["fed"], "refresh": result, "ingest": ingest}


def metadata(result, node: str) -> dict:
    mats = result.asset_materializations_for_node(node)
    assert mats, f"{node} was not materialised"
    return dict(mats[-1].metadata)


def test_the_marts_charts_reports_and_the_rebuild_after_ingest(db, day, defs, instance, monkeypatch, capsys):
    result = day["refresh"]
    assert result.success
    failed = [e.asset_check_evaluation_data.check_name for e in result.all_events
              if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION and not e.asset_check_evaluation_data.passed]
    assert failed == [], failed                            # every dbt test of every mart passed
    checks = {e.asset_check_evaluation_data.check_name for e in result.all_events
              if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    assert {"assert_dashboards_reconcile_with_funnel", "assert_dashboard_rates_in_range",
            "assert_dashboard_keys_unique"} <= checks

    for name in REPORTS:
        meta = metadata(result, f"{name}_dashboard")
        md = meta["chart"].value
        assert md.startswith("![") and "data:image/png;base64," in md
        png = base64.b64decode(md.split("base64,", 1)[1].rstrip(")"))
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000, name
        assert meta["row_count"].value > 0, name
        assert len(meta["rows"].value.records) == min(meta["row_count"].value, 50)

    uploads = {k: v.value for k, v in metadata(result, "uploads_dashboard").items()}
    assert uploads["uploads"] == 2 and uploads["rejected"] >= 2
    vendors = {k: v.value for k, v in metadata(result, "vendors_dashboard").items()}
    assert vendors["booked"] == 1 and vendors["cost_per_booking"] == 1500.0

    with psycopg.connect(db) as conn:
        up = conn.execute("SELECT rows_in, status, cost_usd, new_leads, seconds_to_merge FROM analytics.uploads_daily "
                          "WHERE upload_id = %s", (day["uid"],)).fetchone()
        roi = conn.execute("SELECT leads, fed, replied, booked, bounced, complained, cost_per_booking "
                           "FROM analytics.vendor_roi WHERE grain = 'upload' AND upload_id = %s",
                           (day["uid"],)).fetchone()
        errors = dict(conn.execute("SELECT kind, sum(items) FROM analytics.errors_daily GROUP BY 1").fetchall())
        funnel_fed = conn.execute("SELECT sum(fed) FROM analytics.funnel_daily").fetchone()[0]
        brokers = conn.execute("SELECT sum(fed), max(weekly_cap) FROM analytics.broker_performance").fetchone()
    assert up[:3] == (240, "merged", 1500) and up[3] > 0 and up[4] is not None and up[4] >= 0
    assert roi == (roi[0], day["fed"], 2, 1, 1, 1, 1500) and roi[0] > 0
    assert errors.get("dlq:leads_validated", 0) >= 2 and errors.get("upload_refused", 0) == 1
    assert funnel_fed == day["fed"] and brokers[0] == day["fed"]

    monkeypatch.setenv("EC_WAREHOUSE_DB", psycopg.conninfo.conninfo_to_dict(db)["dbname"])
    for name in REPORTS:
        capsys.readouterr()
        assert cli.main(["report", name, "--days", "4000", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert isinstance(rows, list) and rows and isinstance(rows[0], dict), name
        assert cli.main(["report", name, "--days", "4000", "--csv"]) == 0
        table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        assert len(table) == len(rows) and set(table[0]) == set(rows[0]), name
        assert cli.main(["report", name, "--days", "4000"]) == 0
        text = capsys.readouterr().out
        assert text.strip() and "no rows yet" not in text, name
    assert cli.main(["report", "vendors", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert any(r["upload_id"] == day["uid"] and r["cost_per_booking"] == 1500.0 for r in listed)

    # after each ingest, the sensor asks for the dashboards again (one day's data, one fixture)
    run = instance.get_run_by_id(day["ingest"].run_id)
    success = next(e for e in day["ingest"].all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS)
    context = dg.build_run_status_sensor_context(sensor_name="dashboards_after_ingest", dagster_instance=instance,
                                                 dagster_run=run, dagster_event=success)
    sensor = next(s for s in defs.sensors if s.name == "dashboards_after_ingest")
    request = sensor(context)
    assert isinstance(request, dg.RunRequest) and request.job_name in (None, "dashboards_job")
    assert request.run_key == f"dashboards:{run.run_id}"
    rebuilt = run_job(defs, instance, "dashboards_job")
    assert rebuilt.success
    assert metadata(rebuilt, "uploads_dashboard")["uploads"].value == 2
    assert scalar(db, "SELECT count(*) FROM analytics.uploads_daily") == 2
