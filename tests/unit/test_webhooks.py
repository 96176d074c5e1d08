"""Standard Webhooks signatures and event bodies, as pure functions."""

import base64
import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from orchestration.events import webhooks
from orchestration.events.webhooks import EventRefused

# The specification's published test vector (standard-webhooks, "Signature scheme").
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
AT = datetime.fromtimestamp(VECTOR_TS, UTC)


def vector_headers(**over) -> dict:
    return {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TS), "webhook-signature": VECTOR_SIG} | over


def test_the_published_vector_signs_and_verifies():
    key = webhooks.decode_secret(VECTOR_SECRET)
    assert webhooks.sign(key, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIG
    secrets = webhooks.parse_event_keys(f"instantly:{VECTOR_SECRET}\n")
    assert webhooks.verify(secrets, vector_headers(), VECTOR_BODY, AT) == ("instantly", VECTOR_ID)


def test_rotation_several_signatures_and_several_secrets():
    old, new = webhooks.new_secret(), webhooks.new_secret()
    body = b'{"type": "reply"}'
    both = " ".join([webhooks.sign(webhooks.decode_secret(old), "m1", VECTOR_TS, body),
                     webhooks.sign(webhooks.decode_secret(new), "m1", VECTOR_TS, body)])
    headers = {"webhook-id": "m1", "webhook-timestamp": str(VECTOR_TS), "webhook-signature": both}
    # the receiver knows only the new secret: the second signature verifies
    assert webhooks.verify(webhooks.parse_event_keys(f"crm:{new}"), headers, body, AT)[0] == "crm"
    # two lines for one sender while rotating: either secret verifies
    assert webhooks.verify(webhooks.parse_event_keys(f"crm:{old}\ncrm:{new}"), headers, body, AT)[0] == "crm"


def _tampered(rng: random.Random) -> tuple[str, dict, bytes]:
    """One way a request differs from what the secret signed (a class of forgeries)."""
    body, headers = VECTOR_BODY, vector_headers()
    kind = rng.choice(["body", "id", "timestamp", "signature", "version", "base64", "empty", "truncated"])
    if kind == "body":
        i = rng.randrange(len(body))
        body = body[:i] + bytes([body[i] ^ (1 << rng.randrange(8))]) + body[i + 1:]
    elif kind == "id":
        headers["webhook-id"] = VECTOR_ID + rng.choice("xyz01")
    elif kind == "timestamp":
        headers["webhook-timestamp"] = str(VECTOR_TS + rng.choice([-2, -1, 1, 2]))
    elif kind == "signature":
        raw = bytearray(base64.b64decode(VECTOR_SIG[3:]))
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        headers["webhook-signature"] = "v1," + base64.b64encode(bytes(raw)).decode()
    elif kind == "version":
        headers["webhook-signature"] = "v2" + VECTOR_SIG[2:]
    elif kind == "base64":
        headers["webhook-signature"] = "v1,%%%not-base64%%%"
    elif kind == "empty":
        headers["webhook-signature"] = "v1,"
    else:
        headers["webhook-signature"] = VECTOR_SIG[:-6]
    return kind, headers, body


def test_every_tampered_request_is_refused_with_401_or_400():
    secrets = webhooks.parse_event_keys(f"instantly:{VECTOR_SECRET}")
    rng = random.Random(20261128)
    for _ in range(300):
        kind, headers, body = _tampered(rng)
        with pytest.raises(EventRefused) as err:
            webhooks.verify(secrets, headers, body, AT)
        assert err.value.status in (400, 401), kind
        assert VECTOR_SIG[3:] not in err.value.message and VECTOR_SECRET[6:] not in err.value.message


@pytest.mark.parametrize("skew, ok", [(0, True), (300, True), (-300, True), (301, False), (-301, False),
                                      (86400, False)])
def test_timestamp_window(skew, ok):
    secrets = webhooks.parse_event_keys(f"instantly:{VECTOR_SECRET}")
    now = AT + timedelta(seconds=skew)
    if ok:
        assert webhooks.verify(secrets, vector_headers(), VECTOR_BODY, now)
    else:
        with pytest.raises(EventRefused) as err:
            webhooks.verify(secrets, vector_headers(), VECTOR_BODY, now)
        assert (err.value.status, err.value.code) == (400, "stale_timestamp")


@pytest.mark.parametrize("headers, code", [
    ({"webhook-id": ""}, "missing_header"), ({"webhook-signature": None}, "missing_header"),
    ({"webhook-timestamp": "2021-02-25T15:02:10Z"}, "bad_header"), ({"webhook-timestamp": "-5"}, "bad_header"),
    ({"webhook-timestamp": "1e9"}, "bad_header"), ({"webhook-id": "id with spaces"}, "bad_header"),
])
def test_malformed_headers_are_400(headers, code):
    with pytest.raises(EventRefused) as err:
        webhooks.verify(webhooks.parse_event_keys(f"a:{VECTOR_SECRET}"),
                        {k: v for k, v in vector_headers(**headers).items() if v is not None}, VECTOR_BODY, AT)
    assert (err.value.status, err.value.code) == (400, code)


@pytest.mark.parametrize("line", ["nosecret", "a:", "a:whsec_", "a b:whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                  "a:whsec_%%%", "a:whsec_c2hvcnQ="])
def test_bad_keys_lines_name_their_line(line):
    with pytest.raises(ValueError, match="line 2"):
        webhooks.parse_event_keys(f"# comment\n{line}\n")


def _body(**doc) -> bytes:
    return json.dumps({"type": "reply", "occurred_at": "2026-11-28T10:00:00Z", "email": "A@Example.com"} | doc).encode()


def test_event_bodies_ours_and_instantlys():
    e = webhooks.parse_event(_body(data={"text": "yes"}))
    assert (e.type, e.email, e.occurred_at.isoformat()) == ("reply", "a@example.com", "2026-11-28T10:00:00+00:00")
    e = webhooks.parse_event(json.dumps({"event_type": "lead_unsubscribed", "timestamp": "2026-11-28T10:00:00.000Z",
                                         "lead_email": "b@example.com", "campaign_id": "c1",
                                         "reply_text": "private words"}).encode())
    assert (e.type, e.email, e.named, e.data) == ("unsubscribe", "b@example.com", "lead_unsubscribed", {"campaign_id": "c1"})
    for named, ours in webhooks.INSTANTLY_TYPES.items():
        assert webhooks.parse_event(json.dumps({"event_type": named, "timestamp": "2026-11-28T10:00:00Z",
                                                "lead_email": "c@example.com"}).encode()).type == ours
    assert webhooks.parse_event(json.dumps({"event_type": "email_opened", "timestamp": "x"}).encode()) is None
    assert webhooks.parse_event(_body(type="bounce", data={"bounce_type": "soft"})).soft_bounce
    assert not webhooks.parse_event(_body(type="bounce")).soft_bounce
    assert webhooks.parse_event(_body(email=None, phone="(813) 555-0142")).phone == "+18135550142"


@pytest.mark.parametrize("body, code", [
    (b"not json", "malformed_body"), (b"[1, 2]", "malformed_body"), (b"\xff\xfe", "malformed_body"),
    (_body(type="opened"), "unknown_type"), (_body(type=None), "malformed_body"),
    (_body(occurred_at="yesterday"), "malformed_body"), (_body(occurred_at="2026-11-28T10:00:00"), "malformed_body"),
    (_body(email="not-an-email"), "malformed_body"), (_body(email=5), "malformed_body"),
    (_body(phone="123"), "malformed_body"), (_body(lead_id="42"), "malformed_body"),
    (_body(email=None), "malformed_body"),
])
def test_malformed_bodies_are_400_with_a_reason(body, code):
    with pytest.raises(EventRefused) as err:
        webhooks.parse_event(body)
    assert (err.value.status, err.value.code) == (400, code)
