"""The sending mailboxes, free of Dagster: each one's cap for a day (with its warm-up ramp), the
day's total, and which mailbox each fed lead goes out from.

Why: a cold mailbox that sends 250 on its first day is flagged; Instantly recommends about 30 sends
per mailbox per day and a slow ramp for a new one. The day's feed is therefore at most the
mailboxes' total for that day, and each lead is spread to the mailbox that has sent least so far.

The setting (``EC_MAILBOXES``) lists mailboxes separated by commas or new lines, each
``address:cap`` or ``address:cap:start+step:since`` — e.g.
``anna@send.example.com:30, ben@send.example.com:40:5+3:2026-12-01`` gives Anna 30 a day and Ben
5 on 1 December, 8 on the 2nd, ... up to his ceiling of 40. Before ``since`` a mailbox sends nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date

_ITEM = re.compile(r"^(?P<address>[^\s:@]+@[^\s:@]+\.[^\s:@]+):(?P<cap>\d+)"
                   r"(?::(?P<start>\d+)\+(?P<step>\d+):(?P<since>\d{4}-\d{2}-\d{2}))?$")


@dataclass(frozen=True)
class Mailbox:
    address: str
    cap: int                       # the most it sends a day, once warmed up (the ramp's ceiling)
    start: int | None = None       # warm-up: sends on its first day ...
    step: int = 0                  # ... plus this many more each day after
    since: date | None = None      # its first day

    def capacity(self, day: date) -> int:
        """How many it may send on ``day``."""
        if self.since is None:
            return self.cap
        if day < self.since:
            return 0
        return min(self.cap, (self.start or 0) + self.step * (day - self.since).days)


def parse(setting: str) -> list[Mailbox]:
    """Mailboxes from one setting (see the module's doc); an empty setting: none (no mailbox limit)."""
    out: list[Mailbox] = []
    for item in [i.strip() for i in re.split(r"[,\n]", setting or "") if i.strip()]:
        m = _ITEM.match(item)
        if not m:
            raise ValueError(f"mailbox {item!r} must look like address:cap or address:cap:start+step:YYYY-MM-DD "
                             "(e.g. anna@send.example.com:30:5+3:2026-12-01)")
        since = None
        if m["since"]:
            try:
                since = date.fromisoformat(m["since"])
            except ValueError:
                raise ValueError(f"mailbox {m['address']}: {m['since']!r} is not a date (YYYY-MM-DD)") from None
        box = Mailbox(m["address"].lower(), int(m["cap"]), int(m["start"]) if m["start"] else None,
                      int(m["step"] or 0), since)
        if any(b.address == box.address for b in out):
            raise ValueError(f"mailbox {box.address} is listed twice")
        out.append(box)
    return out


def day_capacity(mailboxes: list[Mailbox], day: date) -> dict[str, int]:
    return {b.address: b.capacity(day) for b in mailboxes}


def assign(capacity: dict[str, int], used: Counter, n: int) -> list[str]:
    """A mailbox for each of ``n`` leads, in order: each to the mailbox that has sent least today
    (``used``: already assigned for the date) among those with room left, ties in listed order.
    Returns fewer than ``n`` when the mailboxes are full."""
    used = Counter(used)
    out = []
    for _ in range(n):
        room = [a for a in capacity if used[a] < capacity[a]]
        if not room:
            break
        pick = min(room, key=lambda a: (used[a], list(capacity).index(a)))
        used[pick] += 1
        out.append(pick)
    return out
