"""Alerts against a local webhook receiver: a failed run and a failed blocking check each produce
one POST with the documented JSON, a UI link and no PII; a receiver that fails first is retried."""

from __future__ import annotations

import json
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import psycopg
import pytest

from orchestration.ops import alerts
from orchestration.defs.alerts.resources import AlertSettings
from orchestration.runs.local_runs import tick_sensor
from tests.support import hostile
from tests.support.stack import run_job
from tests.support.uploads import ingest, miscounting_merge


class Receiver:
    """A webhook that records every JSON body; the first ``fail`` requests get a 503."""

    def __init__(self, fail: int = 0):
        self.bodies: list[dict] = []
        self.fail = fail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.fail > 0:
                    outer.fail -= 1
                    self.send_response(503)
                else:
                    outer.bodies.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def hook():
    r = Receiver()
    yield r
    r.close()


def settings(*urls: str) -> AlertSettings:
    return AlertSettings(webhook_urls=",".join(urls), ui_base_url="http://ui.example:3000", backoff_s=0.01)


def no_pii(body: dict, rows: list[list[str]]) -> None:
    text = json.dumps(body)
    for r in rows:
        for value in (r[0], r[4], r[6], r[7]):
            assert value not in text, value


def test_a_failed_run_posts_one_alert(db, door, instance, defs, hook):
    rows = hostile.rows_of("al", 2)
    identity = ("address", "mak", "apn")
    body = hostile.to_csv(rows, header=[h for h in hostile.HEADER if h not in identity]).encode()  # no identity
    uid, result = ingest(db, door, instance, defs, body, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_instance=instance, dagster_run=run,
        dagster_event=failure, resources={"alert_settings": settings(hook.url)}).for_run_failure()
    sensor = next(s for s in defs.sensors if s.name == "alert_on_run_failure")
    sensor(context)
    assert len(hook.bodies) == 1
    alert = hook.bodies[0]
    assert alert["kind"] == "run_failure" and alert["job"] == "ingest_upload" and alert["partition"] == uid
    assert alert["asset"] == "leads_staging" and "missing required column" in alert["reason"]
    assert alert["url"] == f"http://ui.example:3000/runs/{result.run_id}"
    assert alert["text"].startswith(":rotating_light: run of ingest_upload failed")
    no_pii(alert, rows)


def test_a_failed_check_posts_one_alert_and_the_cursor_moves_on(db, door, instance, defs, hook, stack,
                                                               monkeypatch):
    rows = hostile.rows_of("ac", 3)
    # A tick before the failure (no webhook yet) moves the cursor past every earlier evaluation.
    before = tick_sensor(defs, instance, "alert_on_check_failure")
    with miscounting_merge(stack.warehouse_url):
        uid, result = ingest(db, door, instance, defs, hostile.to_csv(rows).encode(), raise_on_error=False)
    assert not result.success
    monkeypatch.setenv("EC_ALERT_WEBHOOK_URLS", hook.url)
    first = tick_sensor(defs, instance, "alert_on_check_failure", cursor=before.cursor)
    again = tick_sensor(defs, instance, "alert_on_check_failure", cursor=first.cursor)
    assert len(hook.bodies) == 1, hook.bodies      # the second tick starts after the first's cursor
    alert = hook.bodies[0]
    assert alert["kind"] == "check_failure" and alert["check"] == "records_reconcile"
    assert alert["asset"] == "leads" and alert["partition"] == uid
    assert alert["reason"] == "2 records accounted for, the file has 3"
    assert int(again.cursor) >= int(first.cursor)
    no_pii(alert, rows)


def test_no_webhook_configured_means_no_alert(defs, instance, db):
    tick = tick_sensor(defs, instance, "alert_on_check_failure")
    assert "no EC_ALERT_WEBHOOK_URLS" in (tick.skip_message or "")


def test_posting_retries_then_reports_per_url(hook):
    flaky = Receiver(fail=2)
    try:
        alert = alerts.Alert("run_failure", "t", "r" * 36, "job", None, None, None, "why", "http://ui/runs/r")
        out = alerts.post(alert, [flaky.url, hook.url, "http://127.0.0.1:9/closed"], attempts=3, backoff_s=0.01)
        assert out[flaky.url] == "sent" and len(flaky.bodies) == 1       # two 503s, then delivered
        assert out[hook.url] == "sent" and out["http://127.0.0.1:9/closed"] == "ConnectError"
    finally:
        flaky.close()


def test_only_the_pipelines_own_reasons_are_quoted():
    assert alerts.safe_reason("StageFailed", "orchestration.ingest.pipeline.StageFailed: upload x refused") \
        == "upload x refused"
    assert alerts.safe_reason("CharacterNotInRepertoire", "invalid byte ... jane@x.com") == \
        "failed with CharacterNotInRepertoire (details in the run's log)"


def test_a_missed_refresh_is_alerted_by_the_health_job(db, instance, defs, hook, monkeypatch):
    """No refresh for two days (the daemon was down): the next health run fails contactable_fresh at
    ERROR and the check-failure sensor posts it."""
    before = tick_sensor(defs, instance, "alert_on_check_failure")
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO pipeline_events (event_type, stage, created_at) VALUES "
                     "('view_refreshed', 'mv_contactable_leads', now() - interval '49 hours')")
    assert run_job(defs, instance, "pipeline_health_job").success
    monkeypatch.setenv("EC_ALERT_WEBHOOK_URLS", hook.url)
    tick_sensor(defs, instance, "alert_on_check_failure", cursor=before.cursor)
    posted = [b for b in hook.bodies if b["check"] == "contactable_fresh"]
    assert len(posted) == 1, hook.bodies
    assert posted[0]["asset"] == "analytics/mv_contactable_leads" or "mv_contactable_leads" in posted[0]["asset"]


def test_the_first_tick_starts_at_the_newest_evaluation(defs, instance, db):
    """An instance with a long history: the first tick (no cursor) does not walk it from the start
    200 at a time; its cursor is the newest evaluation, so the next failure is posted at once."""
    key = dg.AssetKey("campaign_feed")
    for n in range(230):
        instance.report_runless_asset_event(dg.AssetCheckEvaluation(
            asset_key=key, check_name="fed_today", passed=True, severity=dg.AssetCheckSeverity.ERROR,
            description=f"old {n}"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)     # the sensor's own query (see it)
        newest = instance.get_event_records(dg.EventRecordsFilter(
            event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), ascending=False, limit=1)[0].storage_id
    tick = tick_sensor(defs, instance, "alert_on_check_failure")
    assert int(tick.cursor) == newest
