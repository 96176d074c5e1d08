"""The upload door refuses cheaply: a request its headers refuse is answered without its body; a
refused body is not kept; a body that trickles or stops is timed out; a sender that hangs up
leaves no partial file; one key streams only a few bodies at once; a key removed from the keys
file is refused at once, with no restart; everything the pipeline writes is private (0600/0700)."""

import os
import random
import socket
import stat
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from orchestration.ops import housekeeping
from orchestration.ingest import signing
from orchestration.web.app import create_app
from orchestration.core.landing import Landing
from orchestration.ingest.receipt import Receiver
from orchestration.runs.local_runs import EndpointThread
from orchestration.privacy import pii
from tests.support.stack import scalar, signing_key

HEADER = b"address,city,state,zip\n"
ROW = b"1 Main St,Springfield,IL,62704\n"
BIG = HEADER + ROW * ((10 << 20) // len(ROW))  # 10 MiB


@pytest.fixture
def landing(tmp_path):
    return Landing(tmp_path / "landing")


def serve(db, landing, keys=None, **limits):
    receiver = Receiver(landing, keys if keys is not None else [signing_key()], db, max_bytes=64 << 20, **limits)
    return EndpointThread(create_app(receiver))


def post(ep, body, headers):
    return httpx.post(ep.url + "/uploads", content=body, headers={"Content-Type": "text/csv", **headers}, timeout=60)


def kept_files(landing):
    return {p: p.stat().st_size for p in landing.root.rglob("*") if p.is_file()}


def header_refusals(seed: int, n: int):
    """Requests the headers alone refuse, of every class: a header missing, malformed, stale,
    from the future, an unknown key id, no signature headers at all."""
    rng = random.Random(seed)
    good = signing.sign(HEADER, source="generic", key=signing_key())
    cases = []
    for _ in range(n):
        h = dict(good)
        kind = rng.choice(["missing", "malformed", "stale", "future", "unknown_key", "unsigned"])
        if kind == "missing":
            h.pop(rng.choice(list(signing.REQUIRED_HEADERS)))
        elif kind == "malformed":
            name = rng.choice([signing.H_SIGNATURE, signing.H_TIMESTAMP, signing.H_SHA256, signing.H_SOURCE])
            h[name] = "".join(rng.choice("abcXYZ0189=:-/ ") for _ in range(rng.randint(1, 70))).strip() or "x"
        elif kind in ("stale", "future"):
            skew = timedelta(seconds=rng.randint(400, 10 ** 7)) * (1 if kind == "stale" else -1)
            h = signing.sign(HEADER, source="generic", key=signing_key(), when=datetime.now(UTC) - skew)
        elif kind == "unknown_key":
            h[signing.H_KEY_ID] = "k" + "".join(rng.choice("abcdef0123") for _ in range(rng.randint(1, 20)))
        else:
            h = {}
        cases.append((kind, h))
    return cases


def test_requests_refused_on_their_headers_are_answered_without_their_body(db, landing):
    with serve(db, landing) as ep:
        for kind, headers in header_refusals(seed=12, n=24):
            resp = post(ep, BIG, headers)
            assert resp.status_code in (400, 401), (kind, resp.text)
            assert resp.json()["code"] in ("missing_header", "malformed_header", "stale_timestamp",
                                           "bad_signature"), (kind, resp.text)
    kept = kept_files(landing)
    assert kept and max(kept.values()) < 4096, "a refused body was kept"
    assert not list(landing.tmp.iterdir())
    with psycopg.connect(db) as conn:
        records = conn.execute("SELECT payload FROM pipeline_dlq WHERE source = 'upload_receipt'").fetchall()
    assert len(records) == 24
    for (payload,) in records:
        record = Path(payload["quarantined"])
        assert record.name.endswith(".json") and record.exists()
        assert '"body_read": false' in record.read_text() and payload["size"] == 0


@pytest.mark.parametrize("forge", ["signature", "hash"])
def test_a_refused_body_keeps_only_its_size_hash_and_first_kib(db, landing, forge):
    h = signing.sign(BIG, source="generic", key=signing_key())
    if forge == "signature":
        h[signing.H_SIGNATURE] = "sha256=" + "ab" * 32
    else:
        h[signing.H_SHA256] = "cd" * 32
    with serve(db, landing) as ep:
        resp = post(ep, BIG, h)
    assert resp.status_code == (401 if forge == "signature" else 400)
    kept = kept_files(landing)
    heads = [p for p in kept if p.suffix == ".head"]
    assert len(heads) == 1 and heads[0].read_bytes() == BIG[:4096]
    assert max(kept.values()) <= 4096
    record = next(p for p in kept if p.suffix == ".json").read_text()
    import hashlib
    assert hashlib.sha256(BIG).hexdigest() in record and f'"size": {len(BIG)}' in record


def raw_upload(ep, body_parts, *, key=None, content_length=None, pause=0.0, close_early=False, read_timeout=30):
    """An upload over a raw socket: the headers of the whole body, then ``body_parts`` with
    ``pause`` seconds between them; returns the status line (or None when closed early)."""
    key = key or signing_key()
    full = b"".join(body_parts)
    h = signing.sign(full, source="generic", key=key)
    host, port = ep.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=read_timeout)
    lines = ["POST /uploads HTTP/1.1", f"Host: {host}", "Content-Type: text/csv",
             f"Content-Length: {content_length or len(full)}"] + [f"{k}: {v}" for k, v in h.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        for part in body_parts:
            sock.sendall(part)
            time.sleep(pause)
        if close_early:
            sock.close()
            return None
        return sock.recv(4096).split(b"\r\n", 1)[0].decode()
    finally:
        sock.close()


def wait_for(predicate, seconds=15.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_a_sender_that_hangs_up_mid_body_leaves_no_partial_file(db, landing):
    with serve(db, landing) as ep:
        raw_upload(ep, [HEADER, ROW * 3000], content_length=10 << 20, close_early=True)
        assert wait_for(lambda: scalar(db, "SELECT count(*) FROM pipeline_events "
                                           "WHERE event_type = 'upload_aborted'") == 1)
    assert not list(landing.tmp.glob("*.part"))
    details = scalar(db, "SELECT details FROM pipeline_events WHERE event_type = 'upload_aborted'")
    assert details["bytes_received"] > 0 and details["partial_file_removed"]
    # A .part left by a crash (no process alive to remove it) goes with the daily sweep, counted.
    stale = landing.tmp / "20260101T000000Z-deadbeef.part"
    stale.write_bytes(ROW * 100)
    os.utime(stale, (time.time() - 2 * 86400,) * 2)
    with psycopg.connect(db) as conn:
        swept = housekeeping.sweep(conn, landing)
    assert swept.part_files == 1 and not stale.exists()


@pytest.mark.parametrize("how", ["stalled", "trickling"])
def test_a_slow_body_is_timed_out_and_not_kept(db, landing, how):
    limits = {"body_idle_timeout_s": 1.0, "body_deadline_s": 60.0} if how == "stalled" else \
        {"body_idle_timeout_s": 1.0, "body_deadline_s": 2.0}
    with serve(db, landing, **limits) as ep:
        t = time.time()
        if how == "stalled":
            status = raw_upload(ep, [HEADER], content_length=1 << 20)
        else:
            status = raw_upload(ep, [HEADER] + [ROW] * 12, pause=0.4)
        took = time.time() - t
    assert status is not None and " 408 " in status + " ", status
    assert took < 20
    assert scalar(db, "SELECT count(*) FROM pipeline_events WHERE event_type = 'upload_refused' "
                      "AND details->>'code' = 'body_timeout'") == 1
    assert not list(landing.tmp.glob("*.part"))


def test_one_key_streams_only_a_few_bodies_at_once(db, landing):
    other = signing.SigningKey("other-key", b"another-secret")
    with serve(db, landing, keys=[signing_key(), other], max_per_key=1, body_idle_timeout_s=10.0) as ep:
        slow = threading.Thread(target=raw_upload, args=(ep, [HEADER] + [ROW] * 8), kwargs={"pause": 0.5})
        slow.start()
        assert wait_for(lambda: list(landing.tmp.glob("*.part")), 5)
        busy = post(ep, HEADER + ROW, signing.sign(HEADER + ROW, source="generic", key=signing_key()))
        assert busy.status_code == 429 and busy.json()["code"] == "busy" and busy.headers["Retry-After"]
        fine = post(ep, HEADER + ROW * 2, signing.sign(HEADER + ROW * 2, source="generic", key=other))
        assert fine.status_code == 202, fine.text
        slow.join()
        # the slot is free again once the slow body has finished
        again = post(ep, HEADER + ROW * 3, signing.sign(HEADER + ROW * 3, source="generic", key=signing_key()))
        assert again.status_code == 202, again.text


def test_a_key_removed_from_the_keys_file_is_refused_without_a_restart(db, landing, tmp_path):
    keys_file = tmp_path / "upload_keys"
    keys_file.write_text("stays:secret-one\ngoes:secret-two\n")
    ring = signing.KeyRing(path=keys_file)
    stays, goes = (signing.SigningKey("stays", b"secret-one"), signing.SigningKey("goes", b"secret-two"))

    def send(key, n):
        body = HEADER + ROW * n
        return post(ep, body, signing.sign(body, source="generic", key=key))

    with serve(db, landing, keys=ring) as ep:
        assert send(goes, 1).status_code == 202
        keys_file.write_text("stays:secret-one\n")
        refused = send(goes, 2)
        assert refused.status_code == 401 and "not an active upload key" in refused.json()["message"]
        assert "secret-two" not in refused.text
        assert send(stays, 3).status_code == 202
        # a half-written file (not parseable) keeps the last good keys rather than opening the door
        keys_file.write_text("stays:secret-one\ngoes-without-a-secret\n")
        assert send(stays, 4).status_code == 202 and ring.error
        assert send(goes, 5).status_code == 401


def test_what_the_door_writes_is_private(db, landing):
    with serve(db, landing) as ep:
        assert post(ep, HEADER + ROW, signing.sign(HEADER + ROW, source="generic", key=signing_key())).status_code == 202
        assert post(ep, BIG, {}).status_code == 400
    for path in [landing.root, *landing.root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


@pytest.mark.parametrize("path", ["/events", "/consent/some-token"])
def test_a_small_body_that_trickles_is_timed_out(db, landing, tmp_path, path):
    """The event and consent doors read bodies of a few KiB: one that has not arrived within the
    time is answered 408 (an event refusal is recorded), not held."""
    from orchestration.campaign.consent_desk import ConsentDesk
    from orchestration.events.receiver import EventReceiver, KeysFile

    keys = tmp_path / "event_keys"
    keys.write_text("")
    app = create_app(Receiver(landing, [], db), EventReceiver(KeysFile(keys), db, sealer=pii.environment_sealer()), ConsentDesk(db),
                     small_body_timeout_s=1.0)
    with EndpointThread(app) as ep:
        host, port = ep.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=20) as sock:
            t = time.time()
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                         "Content-Length: 2000\r\n\r\n{".encode())
            status = sock.recv(4096).split(b"\r\n", 1)[0].decode()
            took = time.time() - t
    assert " 408 " in status + " " and took < 15, (status, took)
    if path == "/events":
        assert scalar(db, "SELECT count(*) FROM pipeline_events WHERE event_type = 'event_refused'"
                          " AND http_status = 408") == 1
