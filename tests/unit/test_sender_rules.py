"""The breaker's judgement and the mailboxes' caps, warm-up and spread (pure logic)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import pytest

from orchestration.campaign import breaker, mailboxes
from orchestration.campaign.breaker import BreakerSettings, Figures

DEFAULTS = BreakerSettings()


@pytest.mark.parametrize("sends, bounces, complaints, tripped", [
    (130, 20, 0, "hard-bounce rate 15.4 % over the last 130 sends"),
    (100, 5, 0, "hard-bounce rate 5.0 % over the last 100 sends"),     # at the limit trips
    (100, 4, 0, None),
    (49, 40, 10, None),                                                # below the sample: never
    (50, 3, 0, "hard-bounce rate 6.0 % over the last 50 sends"),
    (1000, 0, 3, "complaint rate 0.30 % over the last 1000 sends"),
    (1000, 0, 2, None),
    (200, 20, 1, "hard-bounce rate 10.0 % and complaint rate 0.50 % over the last 200 sends"),
    (0, 0, 0, None),
])
def test_the_breaker_trips_at_its_limits_over_its_sample(sends, bounces, complaints, tripped):
    why = breaker.trips(Figures(None, sends, bounces, complaints), DEFAULTS)
    assert (why is None) == (tripped is None)
    if tripped:
        assert why.startswith(tripped)


def test_trips_agrees_with_the_rates_on_a_seeded_sample():
    rng = random.Random(24)
    for _ in range(2000):
        s = BreakerSettings(rng.randint(1, 28), rng.randint(1, 200), rng.uniform(0.001, 0.2), rng.uniform(0.0005, 0.02))
        sends = rng.randint(0, 400)
        f = Figures("u", sends, rng.randint(0, sends), rng.randint(0, max(0, sends // 50)))
        expected = sends >= s.min_sends and (f.hard_bounce_rate >= s.max_hard_bounce_rate
                                             or f.complaint_rate >= s.max_complaint_rate)
        assert (breaker.trips(f, s) is not None) == expected


@pytest.mark.parametrize("bad", [dict(window_days=0), dict(min_sends=0), dict(max_hard_bounce_rate=0),
                                 dict(max_complaint_rate=1.5), dict(max_hard_bounce_rate=-0.1)])
def test_settings_out_of_range_are_refused(bad):
    with pytest.raises(ValueError):
        BreakerSettings(**bad)


def test_a_mailbox_ramps_from_its_start_to_its_ceiling():
    [box] = mailboxes.parse("New@Send.test:30:5+3:2026-03-09")
    assert box.address == "new@send.test"
    day1 = date(2026, 3, 9)
    assert box.capacity(day1 - timedelta(days=1)) == 0          # before its first day: nothing
    assert box.capacity(day1) == 5 and box.capacity(day1 + timedelta(days=1)) == 8
    assert box.capacity(day1 + timedelta(days=9)) == 30          # day 10: 5 + 27 = 32, capped at 30
    assert box.capacity(day1 + timedelta(days=400)) == 30


@pytest.mark.parametrize("setting, problem", [
    ("anna@send.test", "must look like"), ("anna@send.test:x", "must look like"),
    ("anna:30", "must look like"), ("a@send.test:30:5+3", "must look like"),
    ("a@send.test:30:5+3:2026-02-30", "is not a date"), ("a@send.test:30, A@send.test:10", "listed twice"),
])
def test_a_malformed_mailbox_setting_says_what_is_wrong(setting, problem):
    with pytest.raises(ValueError, match=problem):
        mailboxes.parse(setting)


def test_an_empty_setting_means_no_mailbox_limit():
    assert mailboxes.parse("") == [] and mailboxes.parse(" , \n") == []


def test_the_spread_is_even_within_each_mailboxs_room_on_a_seeded_sample():
    rng = random.Random(7)
    for _ in range(500):
        capacity = {f"m{i}@send.test": rng.randint(0, 40) for i in range(rng.randint(1, 6))}
        used = Counter({a: rng.randint(0, c) for a, c in capacity.items()})
        n = rng.randint(0, 300)
        got = mailboxes.assign(capacity, used, n)
        total = used + Counter(got)
        assert len(got) == min(n, sum(capacity.values()) - sum(used.values()))
        assert all(total[a] <= capacity[a] for a in capacity)
        # even: a mailbox with room left never lags another by more than one send of today's
        room = [a for a in capacity if total[a] < capacity[a]]
        for a in room:
            assert all(total[a] >= total[b] - 1 for b in capacity if Counter(got)[b] > 0)
