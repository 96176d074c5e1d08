"""Pure signing logic: header checks, the window, the hash, keys, and the published test vector."""

from datetime import UTC, datetime, timedelta

import pytest

from orchestration.ingest import signing

KEY = signing.SigningKey("k-2026", b"correct horse battery staple")
BODY = b"address,city,state,zip\n1 Main St,Springfield,IL,62704\n"
NOW = datetime(2026, 3, 6, 13, 30, 0, tzinfo=UTC)


def headers(**over):
    h = signing.sign(BODY, source="generic", key=KEY, when=NOW)
    h.update(over)
    return {k: v for k, v in h.items() if v is not None}


def refused(h, body=BODY, keys=(KEY,), at=NOW):
    with pytest.raises(signing.UploadRefused) as exc:
        signing.verify_bytes(h, body, list(keys), received_at=at)
    return exc.value


def test_published_test_vector():
    """docs/upload-protocol.md quotes these values; they must stay true."""
    h = headers()
    assert h["X-Signature-Timestamp"] == "2026-03-06T13:30:00Z"
    assert h["X-Content-SHA256"] == "8862c6cd76cbce8c97ce19ac2e9567d5b015e30fedaf4f4a9e3e6bd413ba02c0"
    assert h["X-Signature"] == "sha256=3186c62bc5ad0b13daa2f031f3317985cc1b6b883e7cb7ad4fb5cb6e83097dc6"
    ok = signing.verify_bytes(h, BODY, [KEY], received_at=NOW)
    assert ok.key_id == "k-2026" and ok.size == len(BODY)


@pytest.mark.parametrize("name", signing.REQUIRED_HEADERS)
def test_each_missing_header(name):
    r = refused(headers(**{name: None}))
    assert (r.status, r.code) == (400, "missing_header") and name in r.message


@pytest.mark.parametrize("name,value", [
    ("X-Signature", "abc"), ("X-Signature-Timestamp", "yesterday"), ("X-Content-SHA256", "xyz"),
    ("X-Upload-Source", "excel"), ("X-Key-Id", "bad key!"),
])
def test_malformed_headers(name, value):
    r = refused(headers(**{name: value}))
    assert (r.status, r.code) == (400, "malformed_header")


@pytest.mark.parametrize("offset", [301, -301])
def test_timestamp_outside_window(offset):
    r = refused(headers(), at=NOW + timedelta(seconds=offset))
    assert (r.status, r.code) == (400, "stale_timestamp")


@pytest.mark.parametrize("offset", [300, -300, 0])
def test_timestamp_inside_window(offset):
    signing.verify_bytes(headers(), BODY, [KEY], received_at=NOW + timedelta(seconds=offset))


def test_hash_mismatch():
    r = refused(headers(), body=BODY + b"x")
    assert (r.status, r.code) == (400, "hash_mismatch")


def test_bad_signature_never_reveals_the_expected_one():
    good = headers()["X-Signature"]
    r = refused(headers(**{"X-Signature": "sha256=" + "0" * 64}))
    assert (r.status, r.code) == (401, "bad_signature")
    assert good[7:] not in r.message and KEY.secret.decode() not in r.message


def test_signature_covers_timestamp_and_source():
    """A captured signature cannot be replayed with a fresh timestamp or another source."""
    h = headers()
    later = NOW + timedelta(minutes=10)
    h2 = dict(h, **{"X-Signature-Timestamp": signing.format_timestamp(later)})
    assert refused(h2, at=later).code == "bad_signature"
    h3 = dict(h, **{"X-Upload-Source": "propstream"})
    assert refused(h3).code == "bad_signature"


def test_retired_key_is_refused_and_rotation_accepts_any_active_key():
    old = signing.SigningKey("k-2025", b"old secret")
    h = signing.sign(BODY, source="generic", key=old, when=NOW)
    assert refused(h, keys=[KEY]).code == "bad_signature"
    assert signing.verify_bytes(h, BODY, [KEY, old], received_at=NOW).key_id == "k-2025"
    del h["X-Key-Id"]  # without a key id every active key is tried
    assert signing.verify_bytes(h, BODY, [KEY, old], received_at=NOW).key_id == "k-2025"


def test_key_parsing_and_repr_hide_secrets():
    keys = signing.parse_keys("# comment, with a comma\na:one,b:two\n\nc:three")
    assert [k.key_id for k in keys] == ["a", "b", "c"]
    assert "one" not in repr(keys)
    with pytest.raises(ValueError):
        signing.parse_keys("no-colon")


def test_streamed_verification_matches_one_shot():
    pending = signing.begin(headers(), [KEY], received_at=NOW)
    for i in range(0, len(BODY), 7):
        pending.update(BODY[i:i + 7])
    assert pending.finish().sha256 == signing.verify_bytes(headers(), BODY, [KEY], received_at=NOW).sha256


@pytest.mark.parametrize("blob,needle", [
    (b"a,b\n1,2\n", None), (b"\xef\xbb\xbfa,b\n", None), (b"PK\x03\x04zip", "binary file"),
    (b"%PDF-1.7", "binary file"), (b"\xff\xfea\x00,\x00", "UTF-16"), (b"\xfe\xff\x00a", "UTF-16"),
])
def test_csv_sniff(blob, needle):
    reason = signing.not_csv_reason(blob)
    assert (reason is None) if needle is None else (needle in reason)
