"""The Instantly push against a local fake server (the real HTTP client, the real feed run): every
fed lead pushed once with its consent link, a 429 with Retry-After honoured, and a push stopped
halfway completed by re-running the date with no lead pushed twice."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
import threading
import time
from collections import Counter

import psycopg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orchestration.campaign import push
from orchestration.privacy import pii
from tests.support.stack import refresh_view, run_job, scalar
from tests.support.feeds import FRIDAY, feed_meta, seed

API_KEY = "test-instantly-key-not-real"


class FakeInstantly:
    """Instantly's create-lead endpoint: remembers every accepted lead; can answer 429 with a
    Retry-After to chosen e-mails once, and 503 to everyone after a number of leads (an outage)."""

    def __init__(self):
        self.accepted: Counter = Counter()
        self.bodies: dict[str, dict] = {}
        self.throttle: set[str] = set()
        self.throttled_at: dict[str, float] = {}
        self.retried_after: dict[str, float] = {}
        self.fail_after: int | None = None
        self.auth: set[str] = set()
        self.requests: Counter = Counter()
        self.delay_s = 0.0
        self.lock = threading.Lock()

    async def create(self, request: Request) -> JSONResponse:
        body = await request.json()
        email = body["email"]
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        with self.lock:
            self.requests[email] += 1
            if email in self.accepted and body.get("skip_if_in_campaign"):
                return JSONResponse({"id": email, "skipped": True})   # Instantly adds it once
            self.auth.add(request.headers.get("authorization", ""))
            if email in self.throttle and email not in self.throttled_at:
                self.throttled_at[email] = time.monotonic()
                return JSONResponse({"error": "rate limited"}, status_code=429, headers={"Retry-After": "1"})
            if email in self.throttled_at and email not in self.retried_after:
                self.retried_after[email] = time.monotonic() - self.throttled_at[email]
            if self.fail_after is not None and sum(self.accepted.values()) >= self.fail_after:
                return JSONResponse({"error": "unavailable"}, status_code=503)
            self.accepted[email] += 1
            self.bodies[email] = body
        return JSONResponse({"id": email})

    def app(self) -> Starlette:
        return Starlette(routes=[Route(push.PATH, self.create, methods=["POST"])])


@pytest.fixture
def instantly(monkeypatch):
    from orchestration.runs.local_runs import EndpointThread

    fake = FakeInstantly()
    with EndpointThread(fake.app()) as ep:
        monkeypatch.setenv("EC_INSTANTLY_BASE_URL", ep.url)
        monkeypatch.setenv("EC_INSTANTLY_API_KEY", API_KEY)
        monkeypatch.setenv("EC_INSTANTLY_CAMPAIGN_ID", "camp-1")
        yield fake


def test_every_fed_lead_is_pushed_once_with_its_consent_link(db, instance, defs, instantly):
    seed(db, 40)
    refresh_view(db, defs, instance)
    emails = [f"lead{i}@example.com" for i in (3, 17)]
    instantly.throttle.update(emails)
    result = run_job(defs, instance, "campaign_feed_job", FRIDAY)
    meta = feed_meta(result)
    assert meta["pushed"] == 40 and meta["push_failed"] == 0
    assert len(instantly.accepted) == 40 and set(instantly.accepted.values()) == {1}
    assert instantly.auth == {f"Bearer {API_KEY}"}
    body = instantly.bodies["lead3@example.com"]
    assert body["campaign"] == "camp-1" and body["skip_if_in_campaign"] is True
    assert body["custom_variables"]["consent_url"].startswith("https://consent.test/consent/")
    assert body["custom_variables"]["broker_name"] == "Broker A" and body["custom_variables"]["property_city"] == "LA"
    # each throttled lead waited what Retry-After asked (1 s) before its second try
    assert set(instantly.retried_after) == set(emails) and min(instantly.retried_after.values()) >= 0.9
    check = {c.check_name: c for c in result.get_asset_check_evaluations()}["campaign_push"]
    assert check.passed and "40 pushed" in check.description
    assert scalar(db, "SELECT count(*) FROM campaign_pushes WHERE status = 'pushed'") == 40
    # the key is nowhere in what the run recorded
    with psycopg.connect(db) as conn:
        assert API_KEY not in str(conn.execute("SELECT array_agg(details::text) FROM pipeline_events").fetchone()[0])
    assert API_KEY not in " ".join(str(e.message or "") + repr(e.event_specific_data) for e in result.all_events)


def test_a_push_stopped_halfway_completes_on_rerun_without_pushing_anyone_twice(db, instance, defs, instantly):
    seed(db, 30)
    refresh_view(db, defs, instance)
    instantly.fail_after = 12                    # the campaign tool goes down after 12 leads
    env = {k: {"env": v} for k, v in (("outbox_dir", "EC_OUTBOX_DIR"), ("form_secret_file", "EC_FORM_SECRET_FILE"),
                                      ("public_base_url", "EC_PUBLIC_BASE_URL"),
                                      ("instantly_base_url", "EC_INSTANTLY_BASE_URL"),
                                      ("instantly_api_key", "EC_INSTANTLY_API_KEY"),
                                      ("instantly_campaign_id", "EC_INSTANTLY_CAMPAIGN_ID"),
                                      ("pii_keys_file", "EC_PII_KEYS_FILE"), ("index_key_file", "EC_INDEX_KEY_FILE"))}
    quick = {"resources": {"feeder_settings": {"config": {**env, "push_max_attempts": 3, "push_backoff_s": 0.01}}}}
    first = defs.resolve_job_def("campaign_feed_job").execute_in_process(
        instance=instance, partition_key=FRIDAY, run_config=quick)   # short retry delays: the outage lasts
    meta = feed_meta(first)
    assert meta["pushed"] == 12 and meta["push_failed"] == 18
    check = {c.check_name: c for c in first.get_asset_check_evaluations()}["campaign_push"]
    assert not check.passed and "18 leads not pushed" in check.description
    assert scalar(db, "SELECT count(*) FROM campaign_pushes WHERE status = 'failed'") == 18
    instantly.fail_after = None                  # back up: the date is re-run
    again = feed_meta(run_job(defs, instance, "campaign_feed_job", FRIDAY))
    assert again["fed"] == 0 and again["pushed"] == 18 and again["push_failed"] == 0
    assert len(instantly.accepted) == 30 and set(instantly.accepted.values()) == {1}
    assert scalar(db, "SELECT count(*) FROM campaign_pushes WHERE status = 'pushed'") == 30
    assert feed_meta(run_job(defs, instance, "campaign_feed_job", FRIDAY)).get("pushed", 0) == 0   # nothing left


@pytest.mark.parametrize("header, expected", [("3", 3.0), ("0", 0.0), ("soon", None), ("", None),
                                              ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_retry_after_forms(header, expected):
    assert push.retry_after_s(header) == expected


def test_a_refused_lead_is_not_retried_and_the_wait_is_capped():
    calls = []

    class Client:
        def __init__(self, status, retry_after=None):
            self.status, self.retry_after = status, retry_after

        def post(self, url, json, headers):
            calls.append(self.status)

            class R:
                status_code = self.status
                headers = {"retry-after": self.retry_after} if self.retry_after else {}
            return R()

    settings = push.PushSettings("http://x", "k", "c", max_attempts=3, backoff_s=0.5, max_wait_s=5)
    row = {"lead_id": 1, "email": "a@example.com", "consent_url": "u"}
    slept = []
    out = push.push_one(Client(400), settings, row, slept.append)
    assert not out.ok and out.attempts == 1 and calls == [400] and slept == []
    out = push.push_one(Client(429, "3600"), settings, row, slept.append)
    assert not out.ok and out.attempts == 3 and slept == [5, 5]           # capped at max_wait_s
    slept.clear()
    out = push.push_one(Client(503), settings, row, slept.append)
    assert not out.ok and slept == [0.5, 1.0]                              # doubling backoff


def _push_in_a_child(url: str, day: str, base: str) -> None:
    from datetime import date

    from orchestration.campaign import feeder
    from tests.support.stack import FORM_SECRET

    links = feeder.ConsentLinks(FORM_SECRET.encode(), "https://consent.test")
    settings = push.PushSettings(base, API_KEY, "camp-1", concurrency=2)
    feeder.push_date(url, date.fromisoformat(day), links, settings, sealer=pii.environment_sealer(), role=None)


def test_a_push_killed_halfway_completes_on_rerun(db, instance, defs, instantly, monkeypatch):
    """kill -9 of the pushing process mid-batch: what was pushed is recorded, the re-run pushes the
    rest, and no lead is added to the campaign twice (at most the one or two in flight at the kill
    are sent again, and skip_if_in_campaign makes Instantly keep one copy)."""
    seed(db, 40)
    refresh_view(db, defs, instance)
    base = os.environ["EC_INSTANTLY_BASE_URL"]
    monkeypatch.setenv("EC_INSTANTLY_BASE_URL", "")          # the feed first, without its push
    assert run_job(defs, instance, "campaign_feed_job", FRIDAY).success
    monkeypatch.setenv("EC_INSTANTLY_BASE_URL", base)
    instantly.delay_s = 0.05
    child = mp.get_context("fork").Process(target=_push_in_a_child, args=(db, FRIDAY, base))
    child.start()
    deadline = time.monotonic() + 60
    while len(instantly.accepted) < 12 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    recorded = scalar(db, "SELECT count(*) FROM campaign_pushes WHERE status = 'pushed'")
    assert 10 <= recorded < 40
    instantly.delay_s = 0.0
    meta = feed_meta(run_job(defs, instance, "campaign_feed_job", FRIDAY))
    assert meta["fed"] == 0 and meta["pushed"] == 40 - recorded and meta["push_failed"] == 0
    assert len(instantly.accepted) == 40 and set(instantly.accepted.values()) == {1}
    resent = sum(n - 1 for n in instantly.requests.values())
    assert resent <= 2                            # only what was in flight at the kill
    assert scalar(db, "SELECT count(*) FROM campaign_pushes WHERE status = 'pushed'") == 40
