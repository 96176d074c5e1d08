"""The funnel after a feed and the replies to it: int_lead_stages and funnel_daily built by the
refresh, the funnel asset's metadata (plotted in the UI), and `equity report funnel`."""

from __future__ import annotations

import csv
import json
import uuid
from datetime import UTC, datetime

import httpx
import psycopg

from orchestration import cli
from orchestration.campaign import funnel
from orchestration.events import webhooks
from tests.support.stack import run_job
from tests.support.apps import SECRET
from tests.support.feeds import FRIDAY, feed_meta, refresh, seed


def post(ep, kind: str, email: str, **data) -> None:
    body = json.dumps({"type": kind, "occurred_at": datetime.now(UTC).isoformat(), "email": email,
                       "data": data}).encode()
    r = httpx.post(f"{ep.url}/events", content=body, timeout=10,
                   headers=webhooks.headers_for(webhooks.decode_secret(SECRET), f"m_{uuid.uuid4().hex}", body))
    assert r.status_code == 200


def test_the_funnel_counts_each_stage_and_the_asset_and_report_show_it(db, instance, defs, events, app,  # noqa: F811
                                                                      monkeypatch, capsys):
    seed(db, 10)
    refresh(defs, instance)
    meta = feed_meta(run_job(defs, instance, "campaign_feed_job", FRIDAY))
    with open(meta["export"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    emails, links = [r["email"] for r in rows], [r["consent_url"] for r in rows]
    post(events, "reply", emails[0])
    post(events, "booked", emails[0])
    post(events, "reply", emails[1])
    post(events, "unsubscribe", emails[2])
    post(events, "bounce", emails[3])
    post(events, "reply", emails[5], text="Please STOP writing to me")    # a reply that revokes: unsubscribed
    assert httpx.post(app.url + links[4][links[4].index("/consent/"):], data={"agree": "yes"},
                      timeout=10).status_code == 200
    result = run_job(defs, instance, "contactable_refresh_job")
    assert result.success
    mats = result.asset_materializations_for_node("funnel")
    figures = {k: v.value for k, v in mats[0].metadata.items()}
    assert {k: figures[f"week_{k}"] for k in ("merged", "replied", "consented", "booked", "unsubscribed",
                                               "bounced")} == {
        "merged": 10, "replied": 3, "consented": 1, "booked": 1, "unsubscribed": 2, "bounced": 1}
    with psycopg.connect(db) as conn:
        stages = conn.execute("SELECT count(*) FILTER (WHERE fed_on IS NOT NULL), count(*) FILTER (WHERE booked_on"
                              " IS NOT NULL) FROM analytics.int_lead_stages").fetchone()
        daily = funnel.by_day(conn, 400)
    assert stages == (10, 1)
    assert sum(r["fed"] for r in daily) == 10 and any(r["replied"] == 3 for r in daily)
    fed_day = next(r for r in daily if r["fed"])
    assert str(fed_day["day"]) == FRIDAY
    monkeypatch.setenv("EC_WAREHOUSE_DB", psycopg.conninfo.conninfo_to_dict(db)["dbname"])
    capsys.readouterr()
    assert cli.main(["report", "funnel", "--days", "400"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[:4] == ["day", "uploaded_rows", "merged", "contactable"] and "booking_rate" in header
    assert FRIDAY in out
    assert cli.main(["report", "funnel", "--days", "400", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)                     # the same figures, for a script
    assert [(r["day"], r["fed"], r["replied"]) for r in doc] == [
        (str(r["day"]), r["fed"], r["replied"]) for r in daily]
