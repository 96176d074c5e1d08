"""Sender health as the feed and an operator see it: the breaker's figures for a feed date, the
pauses they open, the pauses in force, and a person's pause and resume (always with a reason).

The judging itself is ``orchestration.campaign.breaker`` (pure); the figures come from the events
(``store.sender_figures``). Each pause opened records a ``deliverability_paused`` pipeline event;
each resume a ``deliverability_resumed`` one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from orchestration.campaign import breaker
from orchestration.campaign.breaker import BreakerSettings, Figures
from orchestration.db import store

STAGE = "campaign_feed"


@dataclass
class Health:
    figures: list[Figures]                                # the whole sender first, then each list
    settings: BreakerSettings
    paused: dict | None = None                            # the whole sender's pause in force
    held: list[dict] = field(default_factory=list)        # lists paused
    tripped: list[Figures] = field(default_factory=list)  # scopes this evaluation paused

    @property
    def overall(self) -> Figures:
        return self.figures[0]

    @property
    def reason(self) -> str:
        """'' when the sender may feed; else "paused: <why>"."""
        return f"paused: {self.paused['reason']}" if self.paused else ""

    def describe(self) -> str:
        if self.paused:
            return self.reason + f" (since {self.paused['paused_at']:%Y-%m-%d %H:%M %Z}, by {self.paused['paused_by']}; " \
                                 "resume with `equity campaign resume --reason ...`)"
        held = f"; {len(self.held)} list(s) held back: " + ", ".join(p["upload_id"] for p in self.held) if self.held else ""
        return breaker.summary(self.overall, self.settings) + held


def evaluate(conn, day: date, settings: BreakerSettings, *, run_id: str | None = None) -> Health:
    """The figures for ``day``'s window; a scope that trips and is not paused yet is paused now."""
    figures = [Figures(*row) for row in store.sender_figures(conn, day, settings.window_days)]
    health = Health(figures, settings)
    for f in figures:
        why = breaker.trips(f, settings)
        if why and store.open_pause(conn, f.upload_id, "breaker", why, f.as_dict()) is not None:
            health.tripped.append(f)
            store.record_event(conn, "deliverability_paused", stage=STAGE, upload_id=f.upload_id, run_id=run_id,
                               row_count=f.sends, details={"by": "breaker", "reason": why, "feed_date": day.isoformat(),
                                                           **f.as_dict()})
    _in_force(conn, health)
    return health


def status(conn, day: date, settings: BreakerSettings) -> Health:
    """What the breaker sees for ``day``, without pausing anything."""
    health = Health([Figures(*row) for row in store.sender_figures(conn, day, settings.window_days)], settings)
    _in_force(conn, health)
    return health


def _in_force(conn, health: Health) -> None:
    pauses = store.open_pauses(conn)
    health.paused = next((p for p in pauses if p["upload_id"] is None), None)
    health.held = [p for p in pauses if p["upload_id"] is not None]


class PauseRefused(ValueError):
    """A pause or resume that cannot be done as asked (the message says why)."""


def pause(conn, *, reason: str, by: str, upload_id: str | None = None) -> dict:
    """A person's pause of the whole sender or of one list."""
    if not reason.strip():
        raise PauseRefused("a pause needs a reason (--reason \"...\")")
    if upload_id is not None and not store.upload_exists(conn, upload_id):
        raise PauseRefused(f"no upload {upload_id!r} is known (see `equity campaign status` for the lists that fed)")
    pause_id = store.open_pause(conn, upload_id, by, reason.strip(), {})
    if pause_id is None:
        raise PauseRefused(("the sender" if upload_id is None else f"list {upload_id}") + " is already paused")
    store.record_event(conn, "deliverability_paused", stage=STAGE, upload_id=upload_id,
                       details={"by": by, "reason": reason.strip(), "pause_id": pause_id})
    return next(p for p in store.open_pauses(conn) if p["id"] == pause_id)


def resume(conn, *, reason: str, by: str, upload_id: str | None = None) -> dict:
    """A person's resume; the breaker then counts only sends fed after it (the cool-down)."""
    if not reason.strip():
        raise PauseRefused("a resume needs a reason (--reason \"...\"): it is recorded with the pause")
    row = store.resume_pause(conn, upload_id, by, reason.strip())
    if row is None:
        raise PauseRefused(("the sender" if upload_id is None else f"list {upload_id}") + " is not paused")
    store.record_event(conn, "deliverability_resumed", stage=STAGE, upload_id=upload_id,
                       details={"by": by, "reason": reason.strip(), "pause_id": row["id"],
                                "paused_reason": row["reason"]})
    return row
