"""Live consent links: each fed lead's export row carries a working one-time link; the page, the
recorded consent and its audit row; second use, expiry, unknown tokens and the rate limit. And a
feed batch whose export failed after the feed committed is completed by re-running the date."""

from __future__ import annotations

import csv
import hashlib
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from orchestration.campaign import consent, feeder
from orchestration.privacy import pii
from tests.support.stack import FORM_SECRET, refresh_view, run_job, scalar
from tests.support.feeds import FRIDAY, fed_ids, feed_meta, seed


def export_rows(meta) -> list[dict]:
    with open(meta["export"], newline="") as fh:
        return list(csv.DictReader(fh))


def local(url: str, app) -> str:
    """The export's public link, opened on the test app (same path)."""
    return app.url + url[url.index("/consent/"):]


def test_a_fed_lead_gives_consent_through_its_link_once(db, instance, defs, app):
    seed(db, 5)
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE brokers SET nmls_number = '123456'")
    refresh_view(db, defs, instance)
    rows = export_rows(feed_meta(run_job(defs, instance, "campaign_feed_job", FRIDAY)))
    assert len(rows) == 5 and len({r["consent_url"] for r in rows}) == 5
    assert all(r["consent_url"].startswith("https://consent.test/consent/") for r in rows)
    assert scalar(db, "SELECT count(*) FROM consent_tokens WHERE expires_at BETWEEN now() + interval '6 days 23 hours'"
                      " AND now() + interval '7 days'") == 5
    url = local(rows[0]["consent_url"], app)
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and "Broker A" in page.text and "NMLS #123456" in page.text
    assert "<script" not in page.text.lower() and page.headers["cache-control"] == "no-store"
    assert httpx.post(url, data={}, timeout=10).status_code == 400            # the box must be ticked
    given = httpx.post(url, data={"agree": "yes"}, headers={"User-Agent": "test-browser/1"}, timeout=10)
    assert given.status_code == 200 and "recorded" in given.text
    with psycopg.connect(db) as conn:
        lead = conn.execute("SELECT consent, consented_at IS NOT NULL, consent_method FROM leads"
                            " WHERE pii_index(email) = %s", (pii.environment_sealer().blind("email", rows[0]["email"]),)).fetchone()
        audit = conn.execute("SELECT a.method, a.token_hash, a.ip_hash, a.user_agent, a.agreed_text, a.page_version,"
                             " a.page_sha256, a.batch_id = t.batch_id, a.feed_date::text, a.lead_id = t.lead_id"
                             " FROM lead_consent_audit a JOIN consent_tokens t ON t.nonce_hash = a.token_hash").fetchall()
    assert lead == (True, True, "form")
    [(method, token_hash, ip_hash, agent, text, version, page_hash, same_batch, feed_date, same_lead)] = audit
    token = url.rsplit("/", 1)[1]
    key = pii.environment_sealer().index.key
    assert (method, token_hash, agent) == ("form", consent.token_hash(token), "test-browser/1")
    # the IP only as its keyed hash; the page as shown (token aside) by version and SHA-256; the token's batch
    assert ip_hash == consent.ip_hash("127.0.0.1", key) and "127.0.0.1" not in ip_hash
    assert version == consent.PAGE_VERSION
    assert page_hash == hashlib.sha256(page.text.replace(token, "{token}").encode()).hexdigest()
    assert (same_batch, feed_date, same_lead) == (True, FRIDAY, True)
    assert "Broker A (NMLS #123456)" in text and text in page.text.replace("&#x27;", "'")
    # the evidence is append-only: no role of the pipeline can change or remove it
    for statement in ("UPDATE lead_consent_audit SET agreed_text = 'something else'",
                      "UPDATE lead_consent_audit SET lead_id = NULL", "DELETE FROM lead_consent_audit"):
        with psycopg.connect(db) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("SET ROLE pipeline_writer")
            conn.execute(statement)
    with psycopg.connect(db) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute("DELETE FROM leads")      # a lead with consent evidence cannot be deleted either
    assert httpx.post(url, data={"agree": "yes"}, timeout=10).status_code == 410    # second use
    assert httpx.get(url, timeout=10).status_code == 410
    # cleanup removes the spent token, never the evidence; the link still answers 410, not 404
    assert scalar(db, "SELECT cleanup_consent_tokens()") >= 1
    assert scalar(db, "SELECT count(*) FROM lead_consent_audit") == 1
    assert httpx.get(url, timeout=10).status_code == 410


def test_expired_unknown_and_malformed_tokens(db, instance, defs, app):
    seed(db, 2)
    refresh_view(db, defs, instance)
    rows = export_rows(feed_meta(run_job(defs, instance, "campaign_feed_job", FRIDAY)))
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE consent_tokens SET expires_at = now() - interval '1 second'")
    url = local(rows[0]["consent_url"], app)
    assert httpx.get(url, timeout=10).status_code == 410
    assert httpx.post(url, data={"agree": "yes"}, timeout=10).status_code == 410
    forged = consent.token_for(b"not the form secret", uuid.uuid4())
    assert httpx.get(f"{app.url}/consent/{forged}", timeout=10).status_code == 404
    for bad in ("x", "a" * 44, "../../etc/passwd", "%00" * 10):
        assert httpx.get(f"{app.url}/consent/{bad}", timeout=10).status_code == 404
    assert scalar(db, "SELECT count(*) FROM leads WHERE consent") == 0


def test_one_address_asking_too_often_is_slowed_down(db, app):
    answers = [httpx.get(f"{app.url}/consent/{'a' * 43}", timeout=10).status_code for _ in range(17)]
    assert answers[:15] == [404] * 15 and answers[15:] == [429, 429]


def test_links_are_derived_again_not_stored(db, instance, defs):
    seed(db, 3)
    refresh_view(db, defs, instance)
    run_job(defs, instance, "campaign_feed_job", FRIDAY)
    links = feeder.ConsentLinks(FORM_SECRET.encode(), "https://consent.test")
    with psycopg.connect(db) as conn:
        batch, leads = conn.execute("SELECT id, lead_ids FROM campaign_batches").fetchone()
        first = links.for_batch(conn, batch, leads)
        again = links.for_batch(conn, batch, leads)
        stored = [r[0] for r in conn.execute("SELECT nonce_hash FROM consent_tokens")]
    assert first == again and len(stored) == 3
    tokens = [u.rsplit("/", 1)[1] for u in first.values()]
    assert sorted(consent.token_hash(t) for t in tokens) == sorted(stored)
    assert not any(t in h for t in tokens for h in stored)


def test_an_export_lost_after_the_feed_committed_is_written_by_a_rerun(db, instance, defs, monkeypatch, tmp_path):
    seed(db, 300)
    refresh_view(db, defs, instance)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("EC_OUTBOX_DIR", str(blocker / "outbox"))         # the outbox cannot be created
    lost = run_job(defs, instance, "campaign_feed_job", FRIDAY, raise_on_error=False)
    assert not lost.success
    assert len(fed_ids(db, FRIDAY)) == 250                                   # the feed itself committed
    assert scalar(db, "SELECT count(*) FROM campaign_batches WHERE exported_at IS NULL") == 1
    monkeypatch.setenv("EC_OUTBOX_DIR", str(tmp_path / "outbox"))
    meta = feed_meta(run_job(defs, instance, "campaign_feed_job", FRIDAY))
    assert meta["fed"] == 0 and meta["fed_for_date"] == 250                   # nobody fed twice
    rows = export_rows(meta)
    assert len(rows) == 250 and all(r["consent_url"] for r in rows)
    assert Path(meta["export"]).parent == tmp_path / "outbox"
    assert "recovered_exports" in meta
    assert scalar(db, "SELECT count(*) FROM campaign_batches WHERE exported_at IS NULL") == 0
    assert len(fed_ids(db)) == 250
    again = feed_meta(run_job(defs, instance, "campaign_feed_job", FRIDAY))
    assert again["fed"] == 0 and "export" not in again                       # nothing left to deliver


def test_no_consent_token_reaches_the_servers_log(db, instance, defs, tmp_path, capfd):
    """`equity serve`'s logging (uvicorn's access log on, capability paths redacted): after a
    consent round trip and a few probes, no token is anywhere in the server's output."""
    from orchestration.campaign.consent_desk import ConsentDesk
    from orchestration.core.landing import Landing
    from orchestration.ingest.receipt import Receiver
    from orchestration.runs.local_runs import EndpointThread
    from orchestration.web.app import create_app, log_config

    seed(db, 2)
    refresh_view(db, defs, instance)
    rows = export_rows(feed_meta(run_job(defs, instance, "campaign_feed_job", FRIDAY)))
    app = create_app(Receiver(Landing(tmp_path / "landing"), [], db), desk=ConsentDesk(db))
    tokens = [r["consent_url"].rsplit("/", 1)[1] for r in rows]
    with EndpointThread(app, log_level="info", log_config=log_config()) as ep:
        capfd.readouterr()
        for token in tokens:
            url = f"{ep.url}/consent/{token}"
            assert httpx.get(url, timeout=10).status_code == 200
            assert httpx.post(url, data={"agree": "yes"}, timeout=10).status_code == 200
            assert httpx.get(f"{url}?again=1", timeout=10).status_code == 410
        assert httpx.get(f"{ep.url}/consent/{tokens[0][:-2]}xy", timeout=10).status_code == 404
    out = capfd.readouterr()
    logged = out.out + out.err
    assert "/consent/<redacted>" in logged and "200" in logged      # the access log is on
    for token in tokens:
        assert token not in logged and token[:12] not in logged
