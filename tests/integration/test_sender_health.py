"""The sender-health breaker and the mailboxes on real feed runs: a bouncing sender pauses the next
feed (nobody fed, the reason, the blocking check failed, one alert), too few sends judge nothing,
a resume with a reason feeds again and is not re-tripped by the old bounces, one bad list is held
back while another feeds, and the day's feed is spread over mailboxes within their warm-up."""

from __future__ import annotations

import csv
import uuid
from datetime import date

import dagster as dg
import psycopg
import pytest

from orchestration.campaign import health
from orchestration.campaign.breaker import BreakerSettings
from orchestration.runs.local_runs import tick_sensor
from tests.integration.test_alerts import Receiver
from tests.support.feeds import feed_meta, fed_ids, seed
from tests.support.stack import refresh_view, run_job, scalar

MONDAY, TUESDAY, WEDNESDAY = "2026-03-09", "2026-03-10", "2026-03-11"


def bounce(db, lead_ids, kind: str = "bounce", bounce_type: str = "hard") -> None:
    """Events as the receiver stores them, for fed leads (their sealed e-mail copied)."""
    with psycopg.connect(db) as conn:
        for lead in lead_ids:
            conn.execute(
                "INSERT INTO lead_events (source, webhook_id, type, occurred_at, lead_id, email, leads_matched, data)"
                " SELECT 'instantly', %s, %s, now(), id, email, 1, %s FROM leads WHERE id = %s",
                (uuid.uuid4().hex, kind, psycopg.types.json.Jsonb({"bounce_type": bounce_type}), lead))


def in_lists(db, lists: dict[str, str]) -> None:
    """lead_sources rows: leads whose id's last hex digit is even came from lists['even'], the others
    from lists['odd']."""
    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO lead_sources (lead_id, upload_id, row_number, received_at)"
                     " SELECT id, CASE WHEN ('x' || right(id::text, 1))::bit(4)::int %% 2 = 0 THEN %s ELSE %s END,"
                     "  row_number() OVER (ORDER BY id), now() FROM leads", (lists["even"], lists["odd"]))


def feed(defs, instance, day):
    result = run_job(defs, instance, "campaign_feed_job", day, raise_on_error=False)
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data for e in result.all_events
              if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    return result, feed_meta(result), checks


@pytest.fixture
def cap(monkeypatch):
    def set_cap(n: int):
        monkeypatch.setenv("EC_DAILY_FEED_CAP", str(n))
    return set_cap


def test_a_bouncing_sender_pauses_the_next_feed_until_a_person_resumes_it(db, instance, defs, cap, monkeypatch):
    seed(db, 600)
    refresh_view(db, defs, instance)
    cap(130)
    first, meta, checks = feed(defs, instance, MONDAY)
    assert first.success and meta["fed"] == 130 and checks["sender_health"].passed
    bounce(db, fed_ids(db, MONDAY)[:20])                                   # 20 of 130: 15.4 %
    bounce(db, fed_ids(db, MONDAY)[20:40], bounce_type="soft")             # soft bounces never count

    hook = Receiver()
    before = tick_sensor(defs, instance, "alert_on_check_failure")
    try:
        paused, meta, checks = feed(defs, instance, TUESDAY)
        assert not paused.success                              # the blocking check stops the run
        assert meta["fed"] == 0 and meta["paused"] is True
        assert meta["shortfall_reason"].startswith("paused: hard-bounce rate 15.4 % over the last 130 sends")
        assert meta["sends_in_window"] == 130 and meta["hard_bounces_in_window"] == 20
        check = checks["sender_health"]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR and check.blocking
        assert fed_ids(db, TUESDAY) == []
        monkeypatch.setenv("EC_ALERT_WEBHOOK_URLS", hook.url)
        tick_sensor(defs, instance, "alert_on_check_failure", cursor=before.cursor)
        posted = [b for b in hook.bodies if b["check"] == "sender_health"]
        assert len(posted) == 1 and "hard-bounce rate 15.4 %" in posted[0]["reason"], hook.bodies
    finally:
        hook.close()
    assert scalar(db, "SELECT count(*) FROM pipeline_events WHERE event_type = 'deliverability_paused'") == 1

    again, meta, _ = feed(defs, instance, TUESDAY)                        # still paused: no second pause
    assert not again.success and meta["fed"] == 0
    assert scalar(db, "SELECT count(*) FROM pipeline_events WHERE event_type = 'deliverability_paused'") == 1

    with psycopg.connect(db) as conn, conn.transaction():
        with pytest.raises(health.PauseRefused, match="needs a reason"):
            health.resume(conn, reason=" ", by="ops")
        health.resume(conn, reason="list 7 removed, bounces explained", by="ops")
    resumed, meta, checks = feed(defs, instance, TUESDAY)
    assert resumed.success and meta["fed"] == 130 and checks["sender_health"].passed
    assert meta["sends_in_window"] == 0              # the sends before the resume no longer count
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT resumed_by, resume_reason FROM campaign_pauses").fetchone()
    assert row == ("ops", "list 7 removed, bounces explained")


def test_below_the_minimum_sample_nothing_trips(db, instance, defs, cap):
    seed(db, 200)
    refresh_view(db, defs, instance)
    cap(40)
    assert feed(defs, instance, MONDAY)[1]["fed"] == 40
    bounce(db, fed_ids(db, MONDAY)[:30])             # 75 %, but 40 sends are below the 50 judged
    result, meta, checks = feed(defs, instance, TUESDAY)
    assert result.success and meta["fed"] == 40 and not meta["paused"]
    assert checks["sender_health"].passed and "below the 50" in checks["sender_health"].description


def test_complaints_trip_at_their_own_rate(db, instance, defs, cap):
    seed(db, 600)
    refresh_view(db, defs, instance)
    cap(250)
    feed(defs, instance, MONDAY)
    bounce(db, fed_ids(db, MONDAY)[:1], kind="complaint")   # 1 of 250 = 0.4 % >= 0.3 %
    result, meta, _ = feed(defs, instance, TUESDAY)
    assert not result.success and meta["fed"] == 0 and "complaint rate 0.40 %" in meta["pause_reason"]


def test_one_bad_list_is_held_back_while_the_other_feeds(db, instance, defs, cap):
    seed(db, 900)
    in_lists(db, {"even": "up_bad", "odd": "up_good"})
    refresh_view(db, defs, instance)
    cap(250)
    result, meta, _ = feed(defs, instance, MONDAY)
    with psycopg.connect(db) as conn:
        by_list = dict(conn.execute("SELECT upload_id, count(*) FROM campaign_batch_leads GROUP BY 1").fetchall())
        bad = [r[0] for r in conn.execute("SELECT lead_id FROM campaign_batch_leads WHERE upload_id = 'up_bad' "
                                          "ORDER BY lead_id LIMIT 10")]
    assert set(by_list) == {"up_bad", "up_good"} and min(by_list.values()) >= 50, by_list
    bounce(db, bad)           # 10 of the bad list's sends (>= 5 % of them), under 5 % of all 250
    result, meta, checks = feed(defs, instance, TUESDAY)
    assert result.success and meta["fed"] == 250 and not meta["paused"] and meta["lists_held"] == 1
    assert "up_bad" in meta["held_lists"]
    check = checks["sender_health"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    with psycopg.connect(db) as conn:
        tuesday = dict(conn.execute("SELECT upload_id, count(*) FROM campaign_batch_leads WHERE feed_date = %s "
                                    "GROUP BY 1", (TUESDAY,)).fetchall())
        assert tuesday == {"up_good": 250}
        status = health.status(conn, date.fromisoformat(TUESDAY), BreakerSettings())
    assert [p["upload_id"] for p in status.held] == ["up_bad"] and status.paused is None


def test_mailboxes_cap_the_day_and_ramp_with_warm_up(db, instance, defs, monkeypatch):
    seed(db, 300)
    refresh_view(db, defs, instance)
    monkeypatch.setenv("EC_MAILBOXES", f"new@send.test:30:5+3:{MONDAY}, old@send.test:20")
    first, meta, _ = feed(defs, instance, MONDAY)          # day 1: 5 + 20
    assert meta["fed"] == 25 and meta["mailbox_capacity"] == 25
    assert meta["by_mailbox"] == {"new@send.test": 5, "old@send.test": 20}
    assert "mailboxes' total for the date is 25" in meta["shortfall_reason"]
    with open(meta["export"], newline="") as fh:
        accounts = [r["sending_account"] for r in csv.DictReader(fh)]
    assert sorted(set(accounts)) == ["new@send.test", "old@send.test"] and accounts.count("new@send.test") == 5
    again, meta, _ = feed(defs, instance, MONDAY)          # the date's mailboxes are full
    assert meta["fed"] == 0 and meta["fed_for_date"] == 25
    day10, meta, _ = feed(defs, instance, "2026-03-18")    # day 10: min(30, 5 + 9 * 3) + 20
    assert meta["fed"] == 50 and meta["by_mailbox"] == {"new@send.test": 30, "old@send.test": 20}
