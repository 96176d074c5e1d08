"""When ``mv_contactable_leads`` counts as fresh (pure rules; the asset check reads the refresh
events the dbt materialization records).

The view is fresh when its latest refresh attempt succeeded and happened after the most recent
05:30 (America/Los_Angeles) — the daily refresh's time. A skipped refresh (another refresh held
the advisory lock) is called out on its own: the view may be older than it looks.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from orchestration import constants

VIEW = "mv_contactable_leads"
DAILY_REFRESH = time(5, 30)
# The refresh due at 05:30 must be done before the 06:00 feed reads the view: a check at 05:45 sees
# it as still running, one from 05:55 on calls it missed.
REFRESH_GRACE = timedelta(minutes=25)


def last_due(now: datetime) -> datetime:
    """The most recent daily refresh time at or before ``now`` (in the operators' zone)."""
    local = now.astimezone(ZoneInfo(constants.TIMEZONE))
    due = datetime.combine(local.date(), DAILY_REFRESH, tzinfo=local.tzinfo)
    return due if local >= due else due - timedelta(days=1)


def freshness(last: tuple[str, datetime] | None, now: datetime) -> tuple[bool, str]:
    """(fresh?, why) from the latest refresh event (event type, when)."""
    if last is None:
        return False, f"no refresh of {VIEW} has been recorded yet"
    kind, at = last
    when = at.astimezone(ZoneInfo(constants.TIMEZONE)).strftime("%Y-%m-%d %H:%M %Z")
    if kind == "refresh_skipped":
        return False, (f"the latest refresh, at {when}, was skipped (another refresh held the lock): "
                       "the view may be stale")
    due = last_due(now)
    if at < due:
        return False, f"not refreshed since {due.strftime('%Y-%m-%d %H:%M %Z')} (latest refresh: {when})"
    return True, f"refreshed at {when}"


def on_time(last: tuple[str, datetime] | None, now: datetime) -> tuple[bool, bool, str]:
    """(passed, is_error, why) for the check that runs every 15 minutes: the refresh due at 05:30 is
    judged from 05:55 on (before, the previous morning's is the one due). A refresh missed past
    that deadline — the daemon down, the job failed — is an error, so it alerts; a skipped one
    (another refresh held the lock) is a warning."""
    fresh, why = freshness(last, now - REFRESH_GRACE)
    if fresh:
        return True, False, why
    skipped = last is not None and last[0] == "refresh_skipped"
    deadline = (last_due(now - REFRESH_GRACE) + REFRESH_GRACE).astimezone(ZoneInfo(constants.TIMEZONE))
    return False, not skipped, f"{why} (deadline {deadline:%H:%M %Z})"
