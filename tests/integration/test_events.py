"""Signed inbound events on the real app over loopback: each type applied, duplicates are no-ops,
bad signatures and stale timestamps refused, rotation accepted, suppressions across every lead of
a person, out-of-order events never undo a suppression, and the feeder re-checks at pick time."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from orchestration.events import webhooks
from orchestration.privacy import pii
from tests.support.stack import refresh_view, run_job, scalar
from tests.support.feeds import FRIDAY, fed_ids
from tests.support.apps import SECRET

OLD_SECRET = webhooks.new_secret()


def post(ep, doc: dict | bytes, *, webhook_id: str | None = None, secret: str = SECRET, when: datetime | None = None,
         headers: dict | None = None) -> httpx.Response:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    h = webhooks.headers_for(webhooks.decode_secret(secret), webhook_id or f"msg_{uuid.uuid4().hex}", body, when)
    return httpx.post(f"{ep.url}/events", content=body, headers=h | (headers or {}), timeout=10)


def event(type_: str, email: str | None = "ann@example.com", **extra) -> dict:
    return {"type": type_, "occurred_at": datetime.now(UTC).isoformat(), "email": email} | extra


def lead(db, email: str, *, status: str = "new", n: int = 1, broker=None) -> list[uuid.UUID]:
    ids = []
    with psycopg.connect(db) as conn:
        for i in range(n):
            ids.append(conn.execute(
                "INSERT INTO leads (first_name, email, email_verified, property_address, property_city, property_state,"
                " property_zip, campaign_status, assigned_broker_id, addr_hash, lead_score)"
                " VALUES ('Ann', %s, true, %s, 'LA', 'CA', '90001', %s, %s, md5(random()::text) || md5(random()::text), 50)"
                " RETURNING id", (pii.environment_sealer().seal("email", email), f"{uuid.uuid4().int % 9000 + 1} MAIN ST",
                                  status, broker)).fetchone()[0])
    return ids


def statuses(db, ids) -> list[str]:
    with psycopg.connect(db) as conn:
        return [conn.execute("SELECT campaign_status::text FROM leads WHERE id = %s", (i,)).fetchone()[0] for i in ids]


KNOWN = [("email", f"{n}@example.com") for n in ("ann", "bob", "cy", "dee", "eve", "ghost")]


def suppressed(db) -> set[tuple]:
    """(channel, value, reason) of every suppression; an e-mail is stored as its blind index, shown
    here as the test's value it indexes."""
    sealer = pii.environment_sealer()
    named = {sealer.blind(channel, value): value for channel, value in KNOWN}
    with psycopg.connect(db) as conn:
        return {(c, named.get(v, v), r) for c, v, r in conn.execute("SELECT channel, value, reason FROM suppressions")}


def test_each_event_type_is_applied(db, events):
    [a] = lead(db, "ann@example.com")
    r = post(events, event("reply", data={"text": "tell me more"}))
    assert r.status_code == 200 and r.json()["leads"] == 1
    with psycopg.connect(db) as conn:
        status, replied = conn.execute("SELECT campaign_status::text, last_reply_at FROM leads WHERE id = %s",
                                       (a,)).fetchone()
    assert status == "replied" and replied is not None
    assert post(events, event("booked")).status_code == 200
    assert statuses(db, [a]) == ["converted"]
    [b] = lead(db, "bob@example.com")
    assert post(events, event("bounce", "bob@example.com", data={"bounce_type": "soft"})).status_code == 200
    assert statuses(db, [b]) == ["new"] and not suppressed(db)           # a soft bounce is only stored
    assert post(events, event("bounce", "bob@example.com")).status_code == 200
    assert statuses(db, [b]) == ["bounced"] and suppressed(db) == {("email", "bob@example.com", "bounce")}
    [c] = lead(db, "cy@example.com")
    assert post(events, event("complaint", "cy@example.com")).status_code == 200
    assert statuses(db, [c]) == ["unsubscribed"] and ("email", "cy@example.com", "complaint") in suppressed(db)
    # by lead id only, in Instantly's own shape and names
    [d] = lead(db, "dee@example.com")
    r = post(events, {"event_type": "lead_unsubscribed", "timestamp": datetime.now(UTC).isoformat(),
                      "lead_email": "dee@example.com", "campaign_id": "c-1"})
    assert r.status_code == 200 and statuses(db, [d]) == ["unsubscribed"]
    [e] = lead(db, "eve@example.com")
    assert post(events, event("reply", None, lead_id=str(e))).json()["leads"] == 1
    assert statuses(db, [e]) == ["replied"]
    assert post(events, {"event_type": "email_opened", "timestamp": "2026-11-28T10:00:00Z"}).json()["status"] == "ignored"
    assert scalar(db, "SELECT count(*) FROM lead_events") == 7


def test_a_repeated_webhook_id_is_a_no_op(db, events):
    [a] = lead(db, "ann@example.com")
    first = post(events, event("reply"), webhook_id="msg_same")
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE leads SET campaign_status = 'new', last_reply_at = NULL WHERE id = %s", (a,))
    again = post(events, event("unsubscribe"), webhook_id="msg_same")     # same id, even with another body
    assert first.status_code == again.status_code == 200 and again.json()["duplicate"] is True
    assert statuses(db, [a]) == ["new"] and not suppressed(db)
    assert scalar(db, "SELECT count(*) FROM lead_events") == 1


def test_bad_signature_stale_timestamp_and_rotation(db, events):
    lead(db, "ann@example.com")
    assert post(events, event("reply"), secret=webhooks.new_secret()).status_code == 401
    stale = post(events, event("reply"), when=datetime.now(UTC) - timedelta(seconds=400))
    assert stale.status_code == 400 and stale.json()["code"] == "stale_timestamp"
    # rotation: the sender signs with the old and the new secret; the receiver knows only the new one
    body = json.dumps(event("reply")).encode()
    ts = int(datetime.now(UTC).timestamp())
    both = " ".join(webhooks.sign(webhooks.decode_secret(s), "msg_rot", ts, body) for s in (OLD_SECRET, SECRET))
    r = httpx.post(f"{events.url}/events", content=body, timeout=10,
                   headers={"webhook-id": "msg_rot", "webhook-timestamp": str(ts), "webhook-signature": both})
    assert r.status_code == 200
    # a secret removed from the keys file is refused at once, without a restart
    events.keys.write_text(f"instantly:{OLD_SECRET}\n")
    assert post(events, event("reply")).status_code == 401
    assert post(events, event("reply"), secret=OLD_SECRET).status_code == 200
    with psycopg.connect(db) as conn:
        refused = dict(conn.execute("SELECT details->>'code', count(*) FROM pipeline_events"
                                    " WHERE event_type = 'event_refused' GROUP BY 1").fetchall())
    assert refused == {"bad_signature": 2, "stale_timestamp": 1}


@pytest.mark.parametrize("body, code", [(b"{not json", "malformed_body"),
                                        (json.dumps(event("opened")).encode(), "unknown_type"),
                                        (json.dumps(event("reply", occurred_at="soon")).encode(), "malformed_body")],
                         ids=["not_json", "unknown_type", "unreadable_time"])   # same ids on every xdist worker
def test_a_signed_body_that_cannot_be_read_is_400_and_in_the_dlq(db, events, body, code):
    r = post(events, body)
    assert r.status_code == 400 and r.json()["code"] == code
    assert scalar(db, "SELECT count(*) FROM pipeline_dlq WHERE source = 'events' AND payload->>'code' = %s",
                  (code,)) == 1


def test_too_large_and_repeated_headers(db, events):
    assert post(events, event("reply", data={"pad": "x" * 5000})).status_code == 413
    body = json.dumps(event("reply")).encode()
    h = webhooks.headers_for(webhooks.decode_secret(SECRET), "msg_dup", body)
    raw = [(k, v) for k, v in h.items()] + [("webhook-id", "msg_other")]
    r = httpx.post(f"{events.url}/events", content=body, headers=raw, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == "repeated_header"


def test_out_of_order_events_never_undo_a_suppression(db, events):
    [a] = lead(db, "ann@example.com")
    now = datetime.now(UTC)
    assert post(events, event("unsubscribe", occurred_at=now.isoformat())).status_code == 200
    # a reply and a booking that happened earlier arrive later
    assert post(events, event("reply", occurred_at=(now - timedelta(hours=2)).isoformat())).status_code == 200
    assert post(events, event("booked", occurred_at=(now - timedelta(hours=1)).isoformat())).status_code == 200
    assert statuses(db, [a]) == ["unsubscribed"] and ("email", "ann@example.com", "unsubscribe") in suppressed(db)


def test_an_event_for_an_unknown_email_is_stored_and_suppresses_a_later_lead(db, events, instance, defs):
    r = post(events, event("unsubscribe", "ghost@example.com"))
    assert r.status_code == 200 and r.json()["leads"] == 0
    assert scalar(db, "SELECT count(*) FROM lead_events WHERE pii_index(email) = %s AND lead_id IS NULL",
                  (pii.environment_sealer().blind("email", "ghost@example.com"),)) == 1      # stored sealed
    broker = _broker(db)
    lead(db, "ghost@example.com", broker=broker)
    refresh_view(db, defs, instance)
    assert scalar(db, "SELECT count(*) FROM analytics.mv_contactable_leads") == 0


def _broker(db) -> uuid.UUID:
    broker = uuid.uuid4()
    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO brokers (id, company_name, license_states, territory_zip_codes, max_leads_per_week)"
                     " VALUES (%s, 'Broker A', '{CA}', '{90001}', 1000)", (broker,))
    return broker


def test_one_unsubscribe_covers_every_lead_of_that_email(db, events, instance, defs):
    broker = _broker(db)
    shared = lead(db, "ann@example.com", n=2, broker=broker)      # two properties of one owner
    other = lead(db, "bob@example.com", broker=broker)
    refresh_view(db, defs, instance)
    assert scalar(db, "SELECT count(*) FROM analytics.mv_contactable_leads") == 3
    assert post(events, event("unsubscribe", lead_id=str(shared[0]))).json()["leads"] == 2
    refresh_view(db, defs, instance)
    assert [r for r in _contactable(db)] == other
    assert statuses(db, shared) == ["unsubscribed", "unsubscribed"]
    assert run_job(defs, instance, "campaign_feed_job", FRIDAY).success
    assert fed_ids(db) == other


def test_an_unsubscribe_after_the_refresh_is_honoured_by_the_feed(db, events, instance, defs):
    broker = _broker(db)
    ann = lead(db, "ann@example.com", broker=broker)
    bob = lead(db, "bob@example.com", broker=broker)
    refresh_view(db, defs, instance)                                        # 05:30: both contactable
    assert sorted(_contactable(db)) == sorted(ann + bob)
    # 05:45: an unsubscribe reaches the list only (as `equity suppress add` does: the lead's own
    # status is untouched), so only the feed's own check of the list can stop it
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO suppressions (channel, value, reason, source) VALUES "
                     "('email', %s, 'unsubscribe', 'test')", (pii.environment_sealer().blind("email", "ann@example.com"),))
    assert run_job(defs, instance, "campaign_feed_job", FRIDAY).success    # 06:00, no refresh in between
    assert fed_ids(db) == bob


def test_one_email_is_fed_once_per_batch_and_not_again_within_the_gap(db, instance, defs):
    broker = _broker(db)
    twins = lead(db, "ann@example.com", n=2, broker=broker)
    refresh_view(db, defs, instance)
    assert run_job(defs, instance, "campaign_feed_job", FRIDAY).success
    assert len(set(fed_ids(db)) & set(twins)) == 1
    assert run_job(defs, instance, "campaign_feed_job", "2026-03-09").success   # next Monday
    assert len(set(fed_ids(db)) & set(twins)) == 1


def _contactable(db) -> list:
    with psycopg.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT lead_id FROM analytics.mv_contactable_leads ORDER BY lead_id")]


def _with_phone(db, ids, phone: str) -> None:
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE leads SET phone = %s, phone_verified = true, consent = true, consented_at = now()"
                     " WHERE id = ANY(%s)", (pii.environment_sealer().seal("phone", phone), ids))


@pytest.mark.parametrize("how", [
    {"data": {"text": "Please stop emailing me.\n\nOn Mon, Dec 1, 2026 Broker A wrote:\n> Hello"}},
    {"data": {"text": "yes", "label": "Not Interested"}},
    "instantly:lead_wrong_person",
    "instantly:reply_text",
])
def test_a_reply_that_says_stop_suppresses_the_person_on_every_lead(db, events, instance, defs, how):
    ann = lead(db, "ann@example.com", n=2)               # two properties of one person
    _with_phone(db, ann, "+12135550199")
    [bob] = lead(db, "bob@example.com")
    if how == "instantly:lead_wrong_person":
        doc = {"event_type": "lead_wrong_person", "timestamp": datetime.now(UTC).isoformat(),
               "lead_email": "ann@example.com", "campaign_id": "c1"}
    elif how == "instantly:reply_text":
        doc = {"event_type": "reply_received", "timestamp": datetime.now(UTC).isoformat(),
               "lead_email": "Ann@Example.com", "reply_text": "REMOVE ME", "reply_text_snippet": "REMOVE ME"}
    else:
        doc = event("reply", **how)
    r = post(events, doc)
    assert r.status_code == 200 and r.json()["leads"] == 2, r.text
    assert statuses(db, ann) == ["unsubscribed", "unsubscribed"] and statuses(db, [bob]) == ["new"]
    assert {s for s in suppressed(db) if s[2] == "revoked"} == {
        ("email", "ann@example.com", "revoked"),
        ("phone", pii.environment_sealer().blind("phone", "+12135550199"), "revoked")}
    with psycopg.connect(db) as conn:
        consent, data = conn.execute("SELECT bool_or(consent), (SELECT data FROM lead_events) FROM leads"
                                     " WHERE id = ANY(%s)", (ann,)).fetchone()
    assert consent is False and data["revoked"].split(":")[0] in ("text", "label")
    assert "emailing" not in json.dumps(data) and "REMOVE" not in json.dumps(data)   # the rule, not the words
    if how == "instantly:reply_text":     # (once) the feed leaves the person out
        refresh_view(db, defs, instance)
        run_job(defs, instance, "campaign_feed_job", FRIDAY)
        assert not set(fed_ids(db)) & set(ann)


def test_a_reply_above_our_quoted_stop_footer_is_only_a_reply(db, events):
    [a] = lead(db, "ann@example.com")
    text = ("Yes, please call me tomorrow.\n\nOn Mon, Dec 1, 2026 at 9:00 AM Broker A <b@example.com> wrote:\n"
            "> Reply STOP at any time to withdraw it.")
    assert post(events, event("reply", data={"text": text})).status_code == 200
    assert statuses(db, [a]) == ["replied"] and not suppressed(db)
