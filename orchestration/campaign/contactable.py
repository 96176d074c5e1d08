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
