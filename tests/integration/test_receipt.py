"""Every refusal class at the HTTP door: documented status, an event, a DLQ record, a quarantined
copy, and nothing staged. Plus the accepted path and the signed-sidecar door."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from orchestration.ingest import signing
from tests.support.stack import scalar, signing_key

BODY = b"address,city,state,zip\n1 Main St,Springfield,IL,62704\n"


def post(ep, body=BODY, *, drop=(), override=None, key=None, when=None, content_type="text/csv"):
    h = signing.sign(body, source="generic", key=key or signing_key(), when=when)
    for name in drop:
        h.pop(name)
    h.update(override or {})
    if content_type:
        h["Content-Type"] = content_type
    return httpx.post(ep.url + "/uploads", content=body, headers=h, timeout=30)


def assert_refused(db, resp, status, code):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == code and body["message"]
    ref = body["reference"]
    with psycopg.connect(db) as conn:
        ev = conn.execute("SELECT http_status, details->>'code' FROM pipeline_events "
                          "WHERE event_type = 'upload_refused' AND upload_id = %s", (ref,)).fetchone()
        assert ev == (status, code)
        dlq = conn.execute("SELECT reason, payload->>'quarantined' FROM pipeline_dlq "
                           "WHERE source = 'upload_receipt' AND payload->>'reference' = %s", (ref,)).fetchone()
        assert dlq is not None and dlq[0].startswith(code)
        assert Path(dlq[1]).exists()
        assert conn.execute("SELECT count(*) FROM leads_staging").fetchone()[0] == 0
    # never a secret or an expected signature in what the sender sees
    assert signing_key().secret.decode() not in resp.text
    return body


def test_accepted_upload_lands_with_manifest(db, endpoint):
    resp = post(endpoint)
    assert resp.status_code == 202, resp.text
    uid = resp.json()["upload_id"]
    manifest = endpoint.receiver.landing.read_manifest(uid)
    assert manifest.size == len(BODY) and manifest.key_id == "test-2026"
    assert endpoint.receiver.landing.data_path(uid).read_bytes() == BODY
    assert scalar(db, "SELECT count(*) FROM pipeline_events WHERE event_type = 'upload_received' "
                      "AND upload_id = %s", (uid,)) == 1


@pytest.mark.parametrize("header", signing.REQUIRED_HEADERS)
def test_missing_header(db, endpoint, header):
    assert_refused(db, post(endpoint, drop=[header]), 400, "missing_header")


def test_bad_signature(db, endpoint):
    assert_refused(db, post(endpoint, override={"X-Signature": "sha256=" + "ab" * 32}), 401, "bad_signature")


def test_retired_key(db, endpoint):
    assert_refused(db, post(endpoint, key=signing_key("test-old")), 401, "bad_signature")


# Just beyond the ±300 s window on either side. The future side keeps a 3 s margin: the header has
# whole seconds and the request takes time to arrive, both of which shrink a future skew (under load
# a 301 s skew arrived as 300 s and was rightly accepted). The exact boundary, with the clock fixed,
# is tested in tests/unit/test_signing.py.
@pytest.mark.parametrize("seconds", [301, -303])
def test_timestamp_just_outside_the_window(db, endpoint, seconds):
    when = datetime.now(UTC) - timedelta(seconds=seconds)
    assert_refused(db, post(endpoint, when=when), 400, "stale_timestamp")


def test_hash_mismatch(db, endpoint):
    assert_refused(db, post(endpoint, override={"X-Content-SHA256": "0" * 64}), 400, "hash_mismatch")


def test_replay(db, endpoint):
    assert post(endpoint).status_code == 202
    assert_refused(db, post(endpoint), 409, "replay")


def test_oversize_is_refused_while_streaming(db, endpoint):
    big = BODY + b"9 Elm St,Town,CA,90210\n" * 4000  # ~ 92 KiB > 64 KiB limit
    assert_refused(db, post(endpoint, big), 413, "too_large")


def test_non_csv_body(db, endpoint):
    assert_refused(db, post(endpoint, b"PK\x03\x04" + b"\x00" * 100), 415, "not_csv")


def test_non_csv_content_type(db, endpoint):
    assert_refused(db, post(endpoint, content_type="application/pdf"), 415, "not_csv")


def test_signed_sidecar_drop(db, endpoint, tmp_path):
    """The second door: a file plus FILE.sig.json in incoming/, verified with its arrival time."""
    import json
    import os

    landing = endpoint.receiver.landing
    f = landing.incoming / "list.csv"
    f.write_bytes(BODY)
    (landing.incoming / "list.csv.sig.json").write_text(
        json.dumps(signing.sign(BODY, source="generic", key=signing_key())))
    stale = landing.incoming / "old.csv"
    stale.write_bytes(BODY + b"2 Oak St,Town,CA,90210\n")
    (landing.incoming / "old.csv.sig.json").write_text(json.dumps(signing.sign(
        stale.read_bytes(), source="generic", key=signing_key(), when=datetime.now(UTC) - timedelta(minutes=20))))
    import logging

    from orchestration.defs.ingest.resources import IngestSettings
    from orchestration.defs.ingest.sensors import process_sidecars
    from orchestration.defs.resources import WarehouseResource

    notes = process_sidecars(logging.getLogger("test"),
                             IngestSettings(landing_dir=os.environ["EC_LANDING_DIR"],
                                            upload_keys_file=os.environ["EC_UPLOAD_KEYS_FILE"]),
                             WarehouseResource(url=db))
    assert sorted(notes) == ["list.csv: 202 accepted", "old.csv: 400 stale_timestamp"]
    assert not list(landing.incoming.iterdir())
    assert scalar(db, "SELECT count(*) FROM pipeline_dlq WHERE reason LIKE 'stale_timestamp%%'") == 1
    assert len(list(landing.uploads.glob("*.csv"))) == 1


@pytest.mark.parametrize("header", [*signing.REQUIRED_HEADERS, signing.H_KEY_ID, "Content-Type"])
@pytest.mark.parametrize("same", [True, False])
def test_a_protocol_header_sent_twice_is_400(db, endpoint, header, same):
    """Whichever copy a proxy keeps, it must be the request that was verified: two copies of one
    protocol header (equal or not) are refused before anything is read as valid."""
    h = signing.sign(BODY, source="generic", key=signing_key())
    h["Content-Type"] = "text/csv"
    h[signing.H_KEY_ID] = signing_key().key_id
    value = next(v for k, v in h.items() if k.lower() == header.lower())
    raw = list(h.items()) + [(header, value if same else value + "x")]
    resp = httpx.post(endpoint.url + "/uploads", content=BODY, headers=raw, timeout=30)
    assert_refused(db, resp, 400, "repeated_header")
    assert header.lower() in resp.json()["message"].lower()
