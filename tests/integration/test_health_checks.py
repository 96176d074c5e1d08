"""The door and DLQ health checks (pipeline_health_job): pass on a quiet pipeline, fail with a
reason when signatures fail, replays pile up or a DLQ item waits for a person."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg

from orchestration import constants, settings
from orchestration.campaign import feeder
from orchestration.ops import health
from tests.support.stack import run_job


def checks(defs, instance) -> dict:
    result = run_job(defs, instance, "pipeline_health_job")
    assert result.success                             # a failed check is reported, not a failed run
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


def receipts(db, accepted: int, refused: dict[str, int], hours_ago: float = 0.1) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        for _ in range(accepted):
            conn.execute("INSERT INTO pipeline_events (event_type, stage, created_at) VALUES"
                         " ('upload_received', 'receipt', now() - make_interval(secs => %s))", (hours_ago * 3600,))
        for code, n in refused.items():
            for _ in range(n):
                conn.execute("INSERT INTO pipeline_events (event_type, stage, details, created_at) VALUES"
                             " ('upload_refused', 'receipt', jsonb_build_object('code', %s::text),"
                             " now() - make_interval(secs => %s))", (code, hours_ago * 3600))


def morning_done(db, refreshed_hours_ago: float = 0.1, fed: bool = True) -> None:
    """The refresh and the feed recorded the way they record themselves."""
    today = datetime.now(UTC).astimezone(ZoneInfo(constants.TIMEZONE)).date()
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO pipeline_events (event_type, stage, created_at) VALUES ('view_refreshed', "
                     "'mv_contactable_leads', now() - make_interval(secs => %s))", (refreshed_hours_ago * 3600,))
        if fed:
            conn.execute("INSERT INTO pipeline_events (event_type, stage, row_count, details) VALUES ('fed', "
                         "'campaign_feed', 7, jsonb_build_object('feed_date', %s::text, 'fed_for_date', 7))",
                         (today.isoformat(),))


def test_a_quiet_pipeline_passes_every_health_check(db, instance, defs):
    receipts(db, 10, {"bad_signature": 1, "replay": 1})
    morning_done(db)
    got = checks(defs, instance)
    assert set(got) == {"hmac_failure_rate", "duplicate_upload_rate", "dlq_needs_a_person", "contactable_fresh",
                        "fed_today"}
    assert all(c.passed for c in got.values()), {k: c.description for k, c in got.items()}


def test_a_missed_morning_fails_at_error_from_the_health_job(db, instance, defs):
    """The daemon was down: the latest refresh is two days old and no feed ran today. The check that
    runs every 15 minutes says so at ERROR (what the alert sensor posts); whether today's feed was
    due yet depends on the hour and the calendar, so that verdict is the rule's for this moment."""
    morning_done(db, refreshed_hours_ago=49, fed=False)
    now = datetime.now(UTC)
    got = checks(defs, instance)
    stale = got["contactable_fresh"]
    assert not stale.passed and stale.severity.value == "ERROR" and "not refreshed since" in stale.description
    fed = got["fed_today"]
    expected, why = feeder.fed_today(now, settings.value("EC_FEED_HOLIDAYS"), None)
    assert fed.passed is expected and fed.severity.value == "ERROR"
    assert fed.description.split(":")[0] == why.split(":")[0]


def test_failing_signatures_and_replays_and_stuck_dlq_items_are_flagged(db, instance, defs):
    receipts(db, 4, {"bad_signature": 6})                       # this hour: 60 % bad signatures
    receipts(db, 2, {"replay": 14}, hours_ago=5)                # today: replays dominate
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO pipeline_dlq (source, reason, payload) VALUES"
                     " ('campaign_feed', 'POST of batch 1 failed: HTTP 400', '{\"status\": \"permanent\"}'),"
                     " ('leads_validated', 'street address is missing', '{}')")   # a row reject: not counted
    got = checks(defs, instance)
    hmac = got["hmac_failure_rate"]
    assert not hmac.passed and hmac.severity.value == "ERROR"
    assert hmac.description == "6 of 10 uploads in the last hour were refused for a bad signature (60%; limit 20%)"
    dup = got["duplicate_upload_rate"]
    assert not dup.passed and dup.severity.value == "WARN"
    assert dup.description == "14 of 26 uploads in the last day were replays of earlier uploads (54%; limit 50%)"
    dlq = got["dlq_needs_a_person"]
    assert not dlq.passed and dlq.description.startswith("1 DLQ item(s) wait for a person (1 from campaign_feed)")


def test_rate_rules():
    assert health.rate_verdict({"accepted": 2, "bad_signature": 2}, "bad_signature", 0.2, 5, "x", "hour")[0] is True
    ok, why, rate = health.rate_verdict({"accepted": 8, "bad_signature": 2}, "bad_signature", 0.2, 5, "bad", "hour")
    assert ok and rate == 0.2 and "(20%; limit 20%)" in why
    assert health.dlq_verdict({}) == (True, "no DLQ item is waiting for a person")


def test_thresholds_come_from_the_environment(db, instance, defs, monkeypatch):
    receipts(db, 4, {"bad_signature": 6})
    monkeypatch.setenv("EC_MAX_BAD_SIGNATURE_PERCENT", "70")
    hmac = checks(defs, instance)["hmac_failure_rate"]
    assert hmac.passed and "(60%; limit 70%)" in hmac.description
