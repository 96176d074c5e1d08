"""Instantly's webhooks as Instantly sends them (unsigned, a secret in a custom header) on the real
app over loopback: the right token is accepted and applied, a wrong, missing, repeated or other
sender's token refused and recorded, a retried delivery is a no-op, the address allow-list holds,
and the Standard Webhooks door does not take a header token in place of a signature."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from orchestration.events import webhooks
from orchestration.events.receiver import EventReceiver, KeysFile, parse_networks
from orchestration.privacy import pii
from tests.integration.test_events import lead, statuses, suppressed
from tests.support.stack import scalar

TOKEN = webhooks.new_header_token()
OTHER = webhooks.new_header_token()
SIGNING = webhooks.new_secret()


def door(db, tmp_path, networks: str = ""):
    from orchestration.core.landing import Landing
    from orchestration.ingest.receipt import Receiver
    from orchestration.runs.local_runs import EndpointThread
    from orchestration.web.app import create_app

    keys = tmp_path / "event_keys"
    keys.write_text(f"instantly:{TOKEN}\nbooking-page:{SIGNING}\nsmartlead:{OTHER}\n")
    receiver = EventReceiver(KeysFile(keys), db, max_bytes=8192, sealer=pii.environment_sealer(),
                             token_networks=parse_networks(networks))
    return EndpointThread(create_app(Receiver(Landing(tmp_path / "landing"), [], db), receiver))


@pytest.fixture
def ep(db, tmp_path):
    with door(db, tmp_path) as e:
        yield e


def instantly(event_type: str, email: str = "ann@example.com", **extra) -> dict:
    """Instantly's webhook body (its documented fields)."""
    return {"timestamp": datetime.now(UTC).isoformat(), "event_type": event_type, "workspace": "ws-1",
            "campaign_id": "camp-1", "campaign_name": "Seniors CA", "lead_email": email,
            "email_account": "anna@send.example.com", "step": 1, "variant": 1, **extra}


def send(ep, doc, token: str | None = TOKEN, headers: dict | None = None) -> httpx.Response:
    h = {"content-type": "application/json"} | ({webhooks.TOKEN_HEADER: token} if token is not None else {})
    return httpx.post(f"{ep.url}/events/instantly", content=json.dumps(doc).encode(), headers=h | (headers or {}),
                      timeout=10)


def test_the_right_token_is_accepted_and_applied(db, ep):
    [a] = lead(db, "ann@example.com")
    r = send(ep, instantly("email_bounced", bounce_type="hard"))
    assert r.status_code == 200 and r.json()["status"] == "accepted" and r.json()["leads"] == 1
    assert r.json()["webhook_id"].startswith("ik_")
    assert statuses(db, [a]) == ["bounced"] and ("email", "ann@example.com", "bounce") in suppressed(db)
    assert scalar(db, "SELECT source FROM lead_events") == "instantly"


def test_a_retried_delivery_is_a_no_op(db, ep):
    [a] = lead(db, "bob@example.com")
    doc = instantly("reply_received", "bob@example.com", reply_text_snippet="Tell me more", email_id="e-77")
    first, again = send(ep, doc), send(ep, doc)
    assert first.json()["status"] == "accepted" and "duplicate" not in first.json()
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["webhook_id"] == first.json()["webhook_id"]
    assert scalar(db, "SELECT count(*) FROM lead_events") == 1
    # the same event with its keys reordered and the e-mail in capitals is the same event
    reordered = dict(reversed(list(doc.items()))) | {"lead_email": "BOB@example.com"}
    assert send(ep, reordered).json()["duplicate"] is True
    # another event of the same lead (another timestamp, another e-mail id) is new
    assert "duplicate" not in send(ep, doc | {"timestamp": "2026-12-07T10:00:00Z", "email_id": "e-78"}).json()
    assert scalar(db, "SELECT count(*) FROM lead_events") == 2


def test_wrong_missing_and_repeated_tokens_are_refused_and_recorded(db, ep):
    [a] = lead(db, "cy@example.com")
    rng = random.Random(26)
    wrong = [TOKEN[:-1] + ("A" if TOKEN[-1] != "A" else "B"), TOKEN + "x", TOKEN[:-4], TOKEN.upper(),
             "x" + TOKEN[1:], "hdr_", "", SIGNING, "Bearer " + TOKEN]
    wrong += ["hdr_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-_") for _ in range(rng.randint(1, 60)))
              for _ in range(20)]
    for token in wrong:
        r = send(ep, instantly("lead_unsubscribed", "cy@example.com"), token=token)
        assert r.status_code == 401, token
        assert r.json()["code"] in ("bad_token", "missing_token") and TOKEN not in r.text
    assert send(ep, instantly("lead_unsubscribed", "cy@example.com"), token=None).json()["code"] == "missing_token"
    repeated = httpx.post(f"{ep.url}/events/instantly", content=json.dumps(instantly("lead_unsubscribed")).encode(),
                          headers=[(webhooks.TOKEN_HEADER, TOKEN), (webhooks.TOKEN_HEADER, TOKEN)], timeout=10)
    assert repeated.status_code == 400 and repeated.json()["code"] == "repeated_header"
    assert statuses(db, [a]) == ["new"] and scalar(db, "SELECT count(*) FROM lead_events") == 0
    refused = scalar(db, "SELECT count(*) FROM pipeline_events WHERE event_type = 'event_refused'")
    assert refused == len(wrong) + 2


def test_each_sender_is_named_by_its_own_token(db, ep):
    lead(db, "dee@example.com")
    r = send(ep, instantly("lead_unsubscribed", "dee@example.com"), token=OTHER)
    assert r.status_code == 200
    assert scalar(db, "SELECT source FROM lead_events") == "smartlead"


def test_a_signed_sender_keeps_standard_webhooks(db, ep):
    body = json.dumps({"type": "booked", "occurred_at": datetime.now(UTC).isoformat(),
                       "email": "eve@example.com"}).encode()
    # a header token is not a signature on the signed door ...
    r = httpx.post(f"{ep.url}/events", content=body, headers={webhooks.TOKEN_HEADER: TOKEN}, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == "missing_header"
    # ... and a signing secret sent as a token opens nothing
    assert send(ep, instantly("lead_unsubscribed", "eve@example.com"), token=SIGNING).status_code == 401
    signed = webhooks.headers_for(webhooks.decode_secret(SIGNING), f"msg_{uuid.uuid4().hex}", body)
    assert httpx.post(f"{ep.url}/events", content=body, headers=signed, timeout=10).status_code == 200


def test_a_signed_body_that_cannot_be_read_goes_to_the_dlq(db, ep):
    r = send(ep, {"event_type": "lead_unsubscribed", "timestamp": "yesterday", "lead_email": "x@example.com"})
    assert r.status_code == 400 and r.json()["code"] == "malformed_body"
    assert scalar(db, "SELECT count(*) FROM pipeline_dlq WHERE source = 'events'") == 1


def test_the_address_allow_list(db, tmp_path):
    lead(db, "ann@example.com")
    with door(db, tmp_path, networks="10.9.0.0/16, 192.0.2.7") as blocked:
        r = send(blocked, instantly("lead_unsubscribed"))
        assert r.status_code == 403 and r.json()["code"] == "address_not_allowed"
    with door(db, tmp_path, networks="10.9.0.0/16, 127.0.0.0/8") as allowed:
        assert send(allowed, instantly("lead_unsubscribed")).status_code == 200
    with pytest.raises(ValueError, match="not an IP address"):
        parse_networks("10.0.0.0/8, instantly.ai")


def test_header_tokens_in_the_keys_file_are_checked(tmp_path):
    with pytest.raises(ValueError, match="at least 32"):
        webhooks.parse_event_keys("instantly:hdr_short\n")
    with pytest.raises(ValueError, match="at least 32"):
        webhooks.parse_event_keys("instantly:hdr_" + "a" * 31 + "!\n")
    [s] = webhooks.parse_event_keys(f"instantly:{TOKEN}\n")
    assert s.kind == "header" and TOKEN not in repr(s)
    assert KeysFile(tmp_path / "missing").secrets() == []
