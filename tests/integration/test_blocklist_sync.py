"""The block list shared with Instantly, against a local fake that follows its API v2 shapes (bulk
create of 1-1,000 values, pages of entries by starting_after): our suppressions pushed once, its
entries pulled into suppressions, a re-run idempotent, drift reported and failed as a check, and an
erasure pushed before its values are removed (a failed push erases nothing)."""

from __future__ import annotations

import threading
import uuid

import dagster as dg
import psycopg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orchestration.campaign import blocklist
from orchestration.privacy import pii
from tests.support.feeds import seed
from tests.support.stack import run_job, scalar

API_KEY = "test-instantly-key-not-real"


class FakeBlocklist:
    def __init__(self):
        self.entries: list[dict] = []      # in creation order, as Instantly lists them
        self.bulk_calls: list[list[str]] = []
        self.fail = False
        self.lock = threading.Lock()

    def add(self, value: str) -> dict:
        entry = {"id": str(uuid.uuid4()), "timestamp_created": "2026-12-07T00:00:00Z", "organization_id": "org-1",
                 "bl_value": value, "is_domain": "@" not in value}
        self.entries.append(entry)
        return entry

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {API_KEY}"

    async def bulk_create(self, request: Request) -> JSONResponse:
        if not self._authorised(request):
            return JSONResponse({"message": "unauthorised"}, status_code=401)
        if self.fail:
            return JSONResponse({"message": "unavailable"}, status_code=503)
        values = (await request.json()).get("bl_values")
        if not isinstance(values, list) or not 1 <= len(values) <= 1000:
            return JSONResponse({"message": "bl_values: 1 - 1000 elements"}, status_code=400)
        with self.lock:
            self.bulk_calls.append(values)
            held = {e["bl_value"] for e in self.entries}
            created = [self.add(v) for v in dict.fromkeys(values) if v not in held]
        return JSONResponse(created)

    async def list(self, request: Request) -> JSONResponse:
        if not self._authorised(request):
            return JSONResponse({"message": "unauthorised"}, status_code=401)
        limit = int(request.query_params.get("limit", 100))
        assert 1 <= limit <= 100
        after = request.query_params.get("starting_after")
        ids = [e["id"] for e in self.entries]
        start = ids.index(after) + 1 if after else 0
        page = self.entries[start:start + limit]
        body = {"items": page}
        if start + limit < len(self.entries):
            body["next_starting_after"] = page[-1]["id"]
        return JSONResponse(body)

    def app(self) -> Starlette:
        return Starlette(routes=[Route(blocklist.PATH + "/bulk-create", self.bulk_create, methods=["POST"]),
                                 Route(blocklist.PATH, self.list, methods=["GET"])])


@pytest.fixture
def fake(monkeypatch):
    from orchestration.runs.local_runs import EndpointThread

    f = FakeBlocklist()
    with EndpointThread(f.app()) as ep:
        monkeypatch.setenv("EC_INSTANTLY_BASE_URL", ep.url)
        monkeypatch.setenv("EC_INSTANTLY_API_KEY", API_KEY)
        yield f


def suppress(db, emails: list[str], reason: str) -> None:
    sealer = pii.environment_sealer()
    with psycopg.connect(db) as conn:
        for e in emails:
            conn.execute("INSERT INTO suppressions (channel, value, reason, source) VALUES ('email', %s, %s, 'test')",
                         (sealer.blind("email", e), reason))


def sync(defs, instance):
    result = run_job(defs, instance, "blocklist_sync_job")
    mats = result.asset_materializations_for_node("instantly_blocklist")
    check = next(e.asset_check_evaluation_data for e in result.all_events
                 if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return {k: v.value for k, v in mats[0].metadata.items()}, check


def test_both_ways_idempotent_and_drift_is_reported(db, instance, defs, fake):
    seed(db, 400)
    suppress(db, ["lead1@example.com"], "unsubscribe")
    suppress(db, ["lead2@example.com"], "complaint")
    suppress(db, [f"lead{g}@example.com" for g in range(3, 253)], "bounce")     # 250: more than a page
    suppress(db, ["never.held@example.com"], "deletion_request")                # a hash only: cannot be pushed
    suppress(db, ["lead300@example.com"], "dnc_internal")                       # not a block-list reason
    fake.add("blocked.inside@example.com")
    fake.add("spam-domain.example")

    meta, check = sync(defs, instance)
    assert (meta["pushed"], meta["not_pushable"], meta["domains"]) == (252, 1, 1)
    assert meta["pulled"] == 253 and meta["pulled_new"] == 1 and meta["drift"] == 0 and check.passed
    pushed = {v for call in fake.bulk_calls for v in call}
    assert len(pushed) == 252 and "lead1@example.com" in pushed and "lead300@example.com" not in pushed
    sealer = pii.environment_sealer()
    assert scalar(db, "SELECT reason FROM suppressions WHERE value = %s",
                  (sealer.blind("email", "blocked.inside@example.com"),)) == "campaign_blocklist"
    assert "blocked.inside@example.com" not in pushed            # what came from it is not sent back
    assert scalar(db, "SELECT count(*) FROM pipeline_events WHERE event_type = 'pii_decrypted' "
                      "AND stage = 'blocklist_sync'") == 1

    calls = len(fake.bulk_calls)
    meta, check = sync(defs, instance)                           # nothing new: nothing pushed
    assert meta["pushed"] == 0 and meta["pulled_new"] == 0 and meta["drift"] == 0 and len(fake.bulk_calls) == calls

    suppress(db, ["lead260@example.com"], "revoked")             # a new opt-out is pushed the next night
    fake.entries = [e for e in fake.entries if e["bl_value"] != "lead1@example.com"]   # removed inside Instantly
    meta, check = sync(defs, instance)
    assert meta["pushed"] == 1 and meta["missing_there"] == 1 and meta["drift"] == 1
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "1 suppressed here but not on Instantly's block list" in check.description


def test_not_configured_is_a_visible_skip(db, instance, defs, monkeypatch):
    monkeypatch.setenv("EC_INSTANTLY_BASE_URL", "")
    meta, check = sync(defs, instance)
    assert "not configured" in meta["skipped"] and check.passed


def test_an_erasure_is_pushed_before_its_values_go(db, fake, tmp_path):
    from orchestration.cli.privacy import BlocklistError, _block_in_campaign_tool
    from orchestration.core.landing import Landing
    from orchestration.privacy import erasure

    seed(db, 3)
    sealer = pii.environment_sealer()
    with psycopg.connect(db) as conn:
        fake.fail = True
        with pytest.raises(BlocklistError, match="failed after"):
            erasure.erase(conn, sealer, Landing(tmp_path / "l"), None, email="lead2@example.com",
                          before_removal=_block_in_campaign_tool(conn, sealer))
        conn.rollback()
    assert scalar(db, "SELECT count(*) FROM leads WHERE email IS NOT NULL") == 3         # nothing erased
    assert scalar(db, "SELECT count(*) FROM suppressions") == 0
    fake.fail = False
    with psycopg.connect(db) as conn:
        report = erasure.erase(conn, sealer, Landing(tmp_path / "l"), None, email="lead2@example.com",
                               before_removal=_block_in_campaign_tool(conn, sealer))
    assert report.leads == 1 and [e["bl_value"] for e in fake.entries] == ["lead2@example.com"]
    assert scalar(db, "SELECT count(*) FROM blocklist_sync WHERE direction = 'pushed'") == 1
    assert scalar(db, "SELECT count(*) FROM leads WHERE email IS NOT NULL") == 2
