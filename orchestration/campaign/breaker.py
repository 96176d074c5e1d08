"""The sender-health breaker, free of Dagster and of the database: given what the last fed leads
came to (sends, hard bounces, complaints), overall and per vendor list, decide what trips.

Why these defaults: Woodpecker's Bounce Shield pauses at 2 % over at least 20 sends in 28 days,
Instantly and Smartlead auto-pause on high recent bounces, and Gmail rejects senders whose spam-
complaint rate passes 0.3 %. A cold list bouncing 5 % in a week is already burning the domain; 50
sends is the smallest sample where 5 % means three or more addresses, not one unlucky bounce.

- A **window** is the leads fed on the feed dates of the last ``window_days`` days, counted
  only from the latest resume of that scope on: a person who resumes a pause is not re-tripped by
  the bounces that caused it (the cool-down); the breaker waits for ``min_sends`` new sends.
- A scope trips when it has at least ``min_sends`` sends and its hard-bounce rate reaches
  ``max_hard_bounce_rate`` or its complaint rate reaches ``max_complaint_rate``. Soft bounces never
  count. The whole sender pauses when the overall figures trip; a list whose own figures trip is
  held back while the others feed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BreakerSettings:
    window_days: int = 7
    min_sends: int = 50
    max_hard_bounce_rate: float = 0.05
    max_complaint_rate: float = 0.003

    def __post_init__(self):
        if self.window_days < 1 or self.min_sends < 1:
            raise ValueError("the breaker's window and minimum sample must be at least 1")
        for name in ("max_hard_bounce_rate", "max_complaint_rate"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} is a rate: above 0 and at most 1 (0.05 is 5 %)")


@dataclass(frozen=True)
class Figures:
    """What one scope's window came to. ``upload_id`` None: the whole sender."""

    upload_id: str | None
    sends: int
    hard_bounces: int
    complaints: int

    @property
    def hard_bounce_rate(self) -> float:
        return self.hard_bounces / self.sends if self.sends else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complaints / self.sends if self.sends else 0.0

    @property
    def scope(self) -> str:
        return "all lists" if self.upload_id is None else f"list {self.upload_id}"

    def as_dict(self) -> dict:
        return {"upload_id": self.upload_id, "sends": self.sends, "hard_bounces": self.hard_bounces,
                "complaints": self.complaints, "hard_bounce_rate": round(self.hard_bounce_rate, 4),
                "complaint_rate": round(self.complaint_rate, 4)}


def percent(rate: float) -> str:
    return f"{rate * 100:.1f} %"


def trips(figures: Figures, settings: BreakerSettings) -> str | None:
    """Why this scope trips ("hard-bounce rate 15.0 % over the last 130 sends"), or None."""
    if figures.sends < settings.min_sends:
        return None
    why = []
    if figures.hard_bounce_rate >= settings.max_hard_bounce_rate:
        why.append(f"hard-bounce rate {percent(figures.hard_bounce_rate)}")
    if figures.complaint_rate >= settings.max_complaint_rate:
        why.append(f"complaint rate {figures.complaint_rate * 100:.2f} %")
    if not why:
        return None
    return (f"{' and '.join(why)} over the last {figures.sends} sends (limits "
            f"{percent(settings.max_hard_bounce_rate)} hard bounces, "
            f"{settings.max_complaint_rate * 100:.2f} % complaints, {settings.window_days}-day window)")


def summary(figures: Figures, settings: BreakerSettings) -> str:
    """One line for an operator, tripped or not."""
    if figures.sends < settings.min_sends:
        return (f"{figures.scope}: {figures.sends} sends in the window, below the {settings.min_sends} the "
                "breaker needs to judge")
    return (f"{figures.scope}: hard-bounce rate {percent(figures.hard_bounce_rate)}, complaint rate "
            f"{figures.complaint_rate * 100:.2f} % over the last {figures.sends} sends")
