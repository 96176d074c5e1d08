"""The morning's work, watched from outside the jobs that do it: both checks run every 15 minutes in
``pipeline_health_job`` (so a daemon that stopped, or a job that never started, is still noticed by
the next tick after it comes back, and alerted), and ``contactable_fresh`` also right after each
refresh.

- ``contactable_fresh``: mv_contactable_leads was refreshed after the latest 05:30
  (America/Los_Angeles), judged from 05:55 — an ERROR past that deadline (the alert sensor posts
  it); a refresh skipped because another held the lock is a WARN.
- ``fed_today``: on a feed day (weekdays that are not holidays, EC_FEED_HOLIDAYS), a feed run was
  recorded for today's date by 06:30 — an ERROR otherwise.
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration import constants
from orchestration.campaign import contactable, feeder
from orchestration.db import store
from orchestration.defs.campaign.resources import FeederSettings
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.campaign.marts import campaign_dbt_models


def _severity(is_error: bool) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if is_error else dg.AssetCheckSeverity.WARN


@dg.asset_check(asset=get_asset_key_for_model([campaign_dbt_models], contactable.VIEW),
                name="contactable_fresh",
                description="mv_contactable_leads was refreshed after the latest 05:30 (America/Los_Angeles), "
                            "judged from 05:55 (ERROR after that), and its latest refresh was not skipped (WARN).")
def contactable_fresh(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        last = store.last_refresh(conn, contactable.VIEW)
    passed, is_error, why = contactable.on_time(last, datetime.now(UTC))
    return dg.AssetCheckResult(passed=passed, severity=_severity(is_error), description=why,
                               metadata={"latest_event": last[0] if last else "none",
                                         "latest_at": last[1].isoformat() if last else "none"})


@dg.asset_check(asset="campaign_feed", name="fed_today",
                description="On a feed day, a feed run was recorded for today's date by 06:30 "
                            "America/Los_Angeles (weekends and EC_FEED_HOLIDAYS pass).")
def fed_today(warehouse: WarehouseResource, feeder_settings: FeederSettings) -> dg.AssetCheckResult:
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(constants.TIMEZONE)).date()
    with warehouse.connect() as conn:
        ran = store.latest_feed_run(conn, today)
    passed, why = feeder.fed_today(now, feeder_settings.holidays, ran)
    return dg.AssetCheckResult(passed=passed, severity=dg.AssetCheckSeverity.ERROR, description=why,
                               metadata={"feed_date": today.isoformat(),
                                         "fed_for_date": ran[1] if ran else 0})
