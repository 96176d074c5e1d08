"""One outbound delivery rule (export POST, Instantly push, alerts, DLQ retries): 2xx only is
delivered, a redirect is a failure naming its Location, 429/5xx/transport errors retry with capped
backoff honouring Retry-After, any other 4xx is final. Fuzzed over answer sequences."""

from __future__ import annotations

import random
from email.utils import formatdate

import httpx
import pytest

from orchestration.core.outbound import RETRY_STATUSES, deliver


def _sender(answers):
    """``send`` answering from ``answers``: a status, (status, headers), or an exception."""
    it = iter(answers)
    calls = []

    def send():
        calls.append(1)
        answer = next(it)
        if isinstance(answer, Exception):
            raise answer
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        return httpx.Response(status, headers=headers, request=httpx.Request("POST", "http://x"))
    return send, calls


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_delivered_and_its_location_is_kept(status):
    send, calls = _sender([(status, {"location": "https://elsewhere.example/in"})])
    got = deliver(send, attempts=4, sleep=lambda s: None)
    assert not got.ok and len(calls) == 1 and got.location == "https://elsewhere.example/in"
    assert f"HTTP {status}" in got.error and "redirect" in got.error


def test_retry_after_is_honoured_in_seconds_and_as_a_date_within_the_cap():
    slept = []
    send, _ = _sender([(429, {"retry-after": "7"}), (503, {"retry-after": formatdate(1000.0 + 20, usegmt=True)}),
                       (429, {"retry-after": "9999"}), 200])
    got = deliver(send, attempts=4, backoff_s=1, max_delay_s=60, sleep=slept.append, now=lambda: 1000.0)
    assert got.ok and got.attempts == 4 and got.statuses == [429, 503, 429, 200]
    assert slept == [7.0, 20.0, 60.0] and got.waited_s == 87.0


def test_transport_errors_retry_with_doubling_capped_delays():
    slept = []
    send, _ = _sender([httpx.ConnectError("refused")] * 5)
    got = deliver(send, attempts=5, backoff_s=2, max_delay_s=10, sleep=slept.append)
    assert not got.ok and got.attempts == 5 and got.statuses == [] and got.error.startswith("ConnectError")
    assert slept == [2, 4, 8, 10]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 413, 422])
def test_another_4xx_is_final(status):
    send, calls = _sender([status])
    got = deliver(send, attempts=5, sleep=lambda s: pytest.fail("no retry"))
    assert not got.ok and len(calls) == 1 and got.error == f"HTTP {status}"


def _answer(rng: random.Random):
    kind = rng.choice(["ok", "redirect", "retry", "final", "transport", "retry_after"])
    if kind == "ok":
        return rng.choice([200, 201, 202, 204, 299])
    if kind == "redirect":
        return (rng.randrange(300, 400), {"location": "/x"})
    if kind == "retry":
        return rng.choice([429, 500, 502, 503, 504, 599])
    if kind == "final":
        return rng.choice([400, 401, 403, 404, 405, 409, 418, 451, 499])
    if kind == "transport":
        return rng.choice([httpx.ConnectError("x"), httpx.ReadTimeout("x"), httpx.RemoteProtocolError("x")])
    return (rng.choice([429, 503]), {"retry-after": str(rng.randrange(0, 1000))})


@pytest.mark.parametrize("seed", range(60))
def test_delivered_exactly_when_a_2xx_comes_before_any_final_answer(seed):
    rng = random.Random(seed)
    answers = [_answer(rng) for _ in range(rng.randint(1, 8))]
    attempts = rng.randint(1, 8)
    slept = []
    send, calls = _sender(answers + [500] * 10)
    got = deliver(send, attempts=attempts, backoff_s=0.5, max_delay_s=30, sleep=slept.append)
    expected_ok, expected_calls, expected_sleeps = False, 0, 0
    for i, answer in enumerate((answers + [500] * 10)[:attempts]):
        expected_calls += 1
        status = answer[0] if isinstance(answer, tuple) else answer
        if isinstance(status, Exception) or status in RETRY_STATUSES:
            expected_sleeps += i < attempts - 1        # a retry waits first, unless no attempt is left
            continue
        expected_ok = 200 <= status < 300
        break
    assert got.ok == expected_ok and len(calls) == expected_calls == got.attempts
    assert len(slept) == expected_sleeps and all(0 <= s <= 30 for s in slept)
    assert got.waited_s == pytest.approx(sum(slept))
