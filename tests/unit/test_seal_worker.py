"""The sealing worker (orchestration.privacy.seal_worker): a child process that must seal exactly
as this process does, answer in order however requests interleave, keep its keys off the command
line and environment, and fail loudly (naming no value) when it dies."""

import os
import random
import signal
import string
from collections import Counter

import pandas as pd
import pytest

from orchestration.ingest.validate import validate_slice
from orchestration.privacy import pii
from orchestration.privacy.blind_index import IndexKey
from orchestration.privacy.seal_worker import InlineSealing, SealingError, SealingWorker, sealing_for
from tests.support.slices import CODES, staged

RING = "old:" + "11" * 32 + "\nnew:" + "2f" * 32 + "\n"
INDEX_KEY = bytes(range(32))


@pytest.fixture(scope="module")
def sealer() -> pii.Sealer:
    return pii.Sealer(pii.parse_ring(RING, "test ring"), IndexKey(INDEX_KEY))


def fuzz(seed: int, n: int) -> list[str | None]:
    """E-mails and phones as validation hands them over, with the odd cases of the class: gaps,
    blanks, padding, mixed case, non-ASCII, values that are already tokens, repeats."""
    rnd = random.Random(seed)
    out: list[str | None] = []
    for _ in range(n):
        r = rnd.random()
        if r < 0.05:
            out.append(None)
        elif r < 0.08:
            out.append(rnd.choice(["", "   ", "\t"]))
        elif r < 0.12 and out:
            out.append(rnd.choice([v for v in out if v is not None] or ["x@y.co"]))      # a repeat
        elif r < 0.55:
            local = "".join(rnd.choice(string.ascii_letters + string.digits + "._+-") for _ in range(rnd.randint(1, 40)))
            domain = rnd.choice(["example.com", "MAIL.co", "ünïcode.org", "xn--bcher-kva.example"])
            out.append(rnd.choice(["", " "]) + f"{local}@{domain}" + rnd.choice(["", " ", "\n"]))
        else:
            out.append("+1" + "".join(rnd.choice(string.digits) for _ in range(10)))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_the_worker_seals_exactly_as_this_process_does(sealer, seed):
    values = fuzz(seed, 3_000)
    values += [sealer.seal("email", "already@sealed.example"), sealer.seal("phone", "+14155550100")]
    with SealingWorker(sealer) as worker:
        got = {ch: worker.submit(ch, values) for ch in ("email", "phone")}
        for channel, future in got.items():
            assert future.result(timeout=30) == sealer.seal_many(channel, values)
    assert InlineSealing(sealer).submit("email", values).result() == sealer.seal_many("email", values)


def test_answers_come_back_in_order_and_large_requests_do_not_deadlock(sealer):
    """Requests far larger than a pipe's buffer, submitted back to back without reading any answer."""
    big = [f"+1415{i:07d}" for i in range(60_000)]
    small = fuzz(99, 50)
    with SealingWorker(sealer) as worker:
        futures = [worker.submit("phone", big), worker.submit("email", small), worker.submit("phone", big[:7]),
                   worker.submit("email", [])]
        results = [f.result(timeout=60) for f in futures]
    assert results[0] == sealer.seal_many("phone", big)
    assert results[1] == sealer.seal_many("email", small)
    assert results[2] == results[0][:7] and results[3] == []


def test_a_refused_request_fails_its_future_and_the_worker_goes_on(sealer):
    with SealingWorker(sealer) as worker:
        bad = worker.submit("fax", ["+14155550100"])
        good = worker.submit("phone", ["+14155550100"])
        with pytest.raises(SealingError, match="unknown channel"):
            bad.result(timeout=30)
        assert good.result(timeout=30) == sealer.seal_many("phone", ["+14155550100"])


def test_the_keys_are_not_on_the_command_line_nor_in_the_environment(sealer):
    with SealingWorker(sealer) as worker:
        worker.submit("phone", ["+14155550100"]).result(timeout=30)
        cmdline = open(f"/proc/{worker.pid}/cmdline", "rb").read()
        environ = open(f"/proc/{worker.pid}/environ", "rb").read()
    for secret in ("11" * 32, "2f" * 32, INDEX_KEY.hex()):
        assert secret.encode() not in cmdline and secret.encode() not in environ
    assert INDEX_KEY not in environ


def test_a_worker_that_dies_fails_what_is_pending_and_what_follows_naming_no_value(sealer):
    value = "private.person@example.com"
    worker = SealingWorker(sealer)
    try:
        worker.submit("email", ["warm@example.com"]).result(timeout=30)
        os.kill(worker.pid, signal.SIGKILL)
        pending = worker.submit("email", [value] * 200_000)
        with pytest.raises(SealingError, match="stopped") as err:
            pending.result(timeout=30)
        assert value not in str(err.value)
        with pytest.raises(SealingError, match="stopped"):
            worker.submit("email", [value]).result(timeout=30)
    finally:
        worker.close()


def test_small_uploads_seal_here_and_large_ones_in_a_worker(sealer):
    assert isinstance(sealing_for(sealer, 19_999, 20_000), InlineSealing)
    assert isinstance(sealing_for(sealer, 10**6, 0), InlineSealing)            # 0: never a process
    with sealing_for(sealer, 20_000, 20_000) as worker:
        assert isinstance(worker, SealingWorker)


def _rows(seed: int, n: int) -> list[dict]:
    rnd = random.Random(seed)
    mails, phones = fuzz(seed, n), fuzz(seed + 1000, n)
    rows = []
    for i in range(n):
        row = {"property_address": f"{rnd.randint(1, 9999)} Main St", "property_city": "Springfield",
               "property_state": "IL", "property_zip": "62704", "first_name": "Ann", "last_name": f"Lee{i}"}
        for slot, pool in (("email", mails), ("email_2", mails), ("phone", phones), ("phone_2", phones)):
            if rnd.random() < 0.7:
                row[slot] = pool[rnd.randrange(n)]
                row[f"{slot}_code"] = rnd.choice(["valid", "connected", "invalid", None])
        if rnd.random() < 0.1:
            row["litigator"] = "Yes"
        rows.append(row)
    return rows


@pytest.mark.parametrize("seed", range(4))
def test_a_slice_validated_with_the_worker_equals_one_sealed_here(sealer, seed):
    frame = staged(*_rows(seed, 400))
    here_counts, there_counts = Counter(), Counter()
    here = validate_slice(frame, CODES, Counter(), here_counts, sealer)
    with SealingWorker(sealer) as worker:
        there = validate_slice(frame, CODES, Counter(), there_counts, sealing=worker)
    pd.testing.assert_frame_equal(here.valid, there.valid)
    assert here_counts == there_counts
    assert [r["row_number"] for r in here.rejects] == [r["row_number"] for r in there.rejects]
    assert here.valid["email"].dropna().str.startswith(pii.PREFIX).all()
    assert here.valid["phone"].dropna().str.startswith(pii.PREFIX).all()
