"""The contactable view and the weekday feeder on real runs: top-250 by score, exactly once per
lead, capped per date under retries, concurrency and backfills; shortfalls explained."""

import multiprocessing as mp
from datetime import date

import psycopg
import pytest

from orchestration.campaign import feeder
from tests.support.stack import refresh_view, run_job
from tests.support.feeds import FRIDAY, fed_ids, feed_meta, refresh, seed


def test_feed_is_the_250_top_scored_and_a_rerun_feeds_nothing_more(db, instance, defs):
    seed(db, 600)
    refresh(defs, instance)
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.mv_contactable_leads").fetchone()[0] == 600
        expected = [r[0] for r in conn.execute(
            "SELECT id FROM leads ORDER BY lead_score DESC, id LIMIT 250").fetchall()]
        assert conn.execute("SELECT count(DISTINCT lead_score) FROM leads").fetchone()[0] > 5
    first = run_job(defs, instance, "campaign_feed_job", FRIDAY)
    meta = feed_meta(first)
    assert meta["fed"] == 250 and meta["fed_for_date"] == 250 and meta["shortfall"] == 0
    assert sorted(fed_ids(db, FRIDAY)) == sorted(expected)
    with psycopg.connect(db) as conn:
        active = conn.execute("SELECT count(*), count(added_to_campaign_at) FROM leads "
                              "WHERE campaign_status = 'active'").fetchone()
    assert active == (250, 250)
    export = meta["export"]
    with open(export) as fh:
        assert sum(1 for _ in fh) == 251  # header + 250
    again = feed_meta(run_job(defs, instance, "campaign_feed_job", FRIDAY))
    assert again["fed"] == 0 and again["fed_for_date"] == 250
    assert len(fed_ids(db)) == 250


def _feed_in_process(args):
    url, day = args
    return feeder.feed(url, date.fromisoformat(day), daily_cap=250).fed_now


def test_ten_concurrent_executions_feed_exactly_250(db, instance, defs):
    seed(db, 600)
    refresh_view(db, defs, instance)
    with mp.get_context("spawn").Pool(10) as pool:
        counts = pool.map(_feed_in_process, [(db, FRIDAY)] * 10)
    assert sum(counts) == 250
    ids = fed_ids(db)
    assert len(ids) == 250 and len(set(ids)) == 250


def test_backfill_of_three_missed_weekdays(db, instance, defs):
    seed(db, 900)
    refresh_view(db, defs, instance)

    for day in ("2026-03-09", "2026-03-10", "2026-03-11"):
        assert feed_meta(run_job(defs, instance, "campaign_feed_job", day))["fed"] == 250
    with psycopg.connect(db) as conn:
        per_day = dict(conn.execute("SELECT feed_date::text, count(*) FROM campaign_batch_leads "
                                    "GROUP BY 1").fetchall())
        dupes = conn.execute("SELECT count(*) - count(DISTINCT lead_id) FROM campaign_batch_leads").fetchone()[0]
    assert per_day == {"2026-03-09": 250, "2026-03-10": 250, "2026-03-11": 250} and dupes == 0


def test_shortfall_is_explained(db, instance, defs):
    seed(db, 180)
    refresh_view(db, defs, instance)
    result = run_job(defs, instance, "campaign_feed_job", FRIDAY)
    meta = feed_meta(result)
    assert meta["fed"] == 180 and meta["shortfall"] == 70
    assert "only 180 fed" in meta["shortfall_reason"] and "180 in mv_contactable_leads" in meta["shortfall_reason"]
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["feed_shortfall"].passed and checks["feed_shortfall"].severity.value == "WARN"
    assert checks["feed_shortfall"].description == meta["shortfall_reason"]
    assert checks["campaign_push"].passed


def test_broker_weekly_cap_is_respected(db, instance, defs):
    seed(db, 300, broker_cap=100)
    refresh_view(db, defs, instance)
    meta = feed_meta(run_job(defs, instance, "campaign_feed_job", "2026-03-09"))
    assert meta["fed"] == 100 and "weekly caps" in meta["shortfall_reason"]
    # Same week, next day: the broker has no room left; the next week it has again.
    assert feed_meta(run_job(defs, instance, "campaign_feed_job", "2026-03-10"))["fed"] == 0
    assert feed_meta(run_job(defs, instance, "campaign_feed_job", "2026-03-16"))["fed"] == 100


def test_weekend_and_holiday_partitions_feed_nothing():
    assert feeder.is_feed_day(date(2026, 3, 7))[0] is False
    assert feeder.is_feed_day(date(2026, 3, 8))[0] is False
    ok, why = feeder.is_feed_day(date(2026, 12, 25), ["2026-12-25"])
    assert not ok and "holiday" in why
    assert feeder.is_feed_day(date(2026, 3, 6))[0] is True


EXCLUDED = [
    ("unsubscribed", "campaign_status = 'unsubscribed'"),
    ("do_not_contact", "campaign_status = 'do_not_contact'"),
    ("bounced", "campaign_status = 'bounced'"),
    ("converted", "campaign_status = 'converted'"),
    ("unverified", "email_verified = false"),
    ("unassigned", "assigned_broker_id = NULL"),
    ("litigator", "melissa_payload = '{\"litigator\": true}'"),
    ("unlicensed state", "property_state = 'NV'"),
]


def test_excluded_leads_never_appear_in_the_view_or_a_feed(db, instance, defs):
    seed(db, len(EXCLUDED) + 5)
    with psycopg.connect(db) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM leads ORDER BY id").fetchall()]
        for lead_id, (_, assignment) in zip(ids, EXCLUDED):
            conn.execute(f"UPDATE leads SET {assignment} WHERE id = %s", (lead_id,))
    refresh(defs, instance)
    excluded = set(ids[: len(EXCLUDED)])
    with psycopg.connect(db) as conn:
        in_view = {r[0] for r in conn.execute("SELECT lead_id FROM analytics.mv_contactable_leads")}
    assert in_view == set(ids) - excluded
    run_job(defs, instance, "campaign_feed_job", FRIDAY)
    assert set(fed_ids(db)) == set(ids) - excluded


def test_export_cells_are_inert_and_carry_the_consent_url():
    data = feeder.export_csv([{"email": "a@example.com", "first_name": "=HYPERLINK(\"x\")", "last_name": "+1",
                               "broker_name": "@SUM", "property_address": "-2 ST", "estimated_equity": 12.0,
                               "lead_score": 9, "consent_url": "https://c.test/consent/abc"}]).decode()
    row = data.splitlines()[1]
    assert "'=HYPERLINK" in row and ",'+1," in row and "'@SUM" in row and "'-2 ST" in row
    assert row.endswith(",https://c.test/consent/abc,")   # then the (empty) sending account


def test_post_retries_429_and_5xx_then_gives_up_on_4xx():
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from orchestration.runs.local_runs import EndpointThread

    answers = iter([429, 503, 200, 400])
    seen = []

    async def hook(request):
        seen.append(len(await request.body()))
        return Response(status_code=next(answers))

    app = Starlette(routes=[Route("/import", hook, methods=["POST"])])
    with EndpointThread(app) as ep:
        ok = feeder.post_with_retry(ep.url + "/import", b"email\n", sleep=lambda s: None)
        assert ok.ok and ok.statuses == [429, 503, 200]
        bad = feeder.post_with_retry(ep.url + "/import", b"email\n", sleep=lambda s: None)
        assert not bad.ok and bad.statuses == [400]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_from_the_campaign_endpoint_is_not_a_delivery(status):
    """httpx does not follow redirects, so the export never reached anyone: not delivered (the DLQ
    keeps it), and where the redirect pointed is in the error."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from orchestration.runs.local_runs import EndpointThread

    hits = []

    async def moved(request):
        hits.append(len(await request.body()))
        return Response(status_code=status, headers={"location": "https://elsewhere.example/import"})

    with EndpointThread(Starlette(routes=[Route("/import", moved, methods=["POST"])])) as ep:
        got = feeder.post_with_retry(ep.url + "/import", b"email\n", sleep=lambda s: pytest.fail("no retry"))
    assert not got.ok and got.statuses == [status] and hits == [6]
    assert "elsewhere.example" in got.error and "not a delivery" in got.error


def test_a_post_that_keeps_failing_leaves_the_batch_fed_and_the_export_in_the_dlq(db, instance, defs):
    """The campaign endpoint answers 503 to every attempt: the feed itself stands (leads fed once,
    export kept), each attempt is an event with its HTTP status, and the DLQ holds the export."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from orchestration.runs.local_runs import QUIET, EndpointThread

    async def unavailable(request):
        await request.body()
        return Response(status_code=503)

    seed(db, 30)
    refresh_view(db, defs, instance)
    app = Starlette(routes=[Route("/import", unavailable, methods=["POST"])])
    with EndpointThread(app) as ep:
        config = {**QUIET, "resources": {"feeder_settings": {"config": {
            "outbox_dir": {"env": "EC_OUTBOX_DIR"},
            "form_secret_file": {"env": "EC_FORM_SECRET_FILE"}, "endpoint_url": ep.url + "/import",
            "pii_keys_file": {"env": "EC_PII_KEYS_FILE"}, "index_key_file": {"env": "EC_INDEX_KEY_FILE"},
            "post_attempts": 3, "post_backoff_s": 0.01}}}}
        result = defs.resolve_job_def("campaign_feed_job").execute_in_process(
            instance=instance, partition_key=FRIDAY, run_config=config)
    assert result.success
    meta = feed_meta(result)
    assert meta["fed"] == 30 and meta["post_statuses"] == [503, 503, 503]
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["campaign_push"].passed and checks["campaign_push"].severity.value == "ERROR"
    assert "failed after 3 attempts" in checks["campaign_push"].description
    assert not checks["feed_shortfall"].passed       # 30 contactable leads for a cap of 250
    assert len(fed_ids(db, FRIDAY)) == 30
    with psycopg.connect(db) as conn:
        statuses = [r[0] for r in conn.execute(
            "SELECT http_status FROM pipeline_events WHERE event_type = 'campaign_post' ORDER BY id")]
        dlq = conn.execute("SELECT reason, payload FROM pipeline_dlq WHERE source = 'campaign_feed'").fetchall()
    assert statuses == [503, 503, 503]
    assert len(dlq) == 1 and "HTTP 503" in dlq[0][0]
    assert dlq[0][1]["export"] == meta["export"] and dlq[0][1]["statuses"] == [503, 503, 503]


def test_a_feed_waits_for_another_feeds_lock_but_not_forever(db, instance, defs):
    seed(db, 5)
    refresh_view(db, defs, instance)
    with psycopg.connect(db, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(job_lock_key('campaign_feed'))")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            feeder.feed(db, date(2026, 3, 6), lock_timeout_s=0.5)
    assert feeder.feed(db, date(2026, 3, 6), lock_timeout_s=0.5).fed_now == 5
