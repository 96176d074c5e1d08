"""Freshness of the contactable view as an asset check (WARN): refreshed since the latest 05:30,
and never silently stale when a refresh was skipped because another one held the lock."""

from datetime import UTC, datetime

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.campaign import contactable
from orchestration.db import store
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.campaign.marts import campaign_dbt_models


@dg.asset_check(asset=get_asset_key_for_model([campaign_dbt_models], contactable.VIEW),
                name="contactable_fresh",
                description="mv_contactable_leads was refreshed after the latest 05:30 (America/Los_Angeles) "
                            "and its latest refresh was not skipped.")
def contactable_fresh(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        last = store.last_refresh(conn, contactable.VIEW)
    fresh, why = contactable.freshness(last, datetime.now(UTC))
    return dg.AssetCheckResult(passed=fresh, severity=dg.AssetCheckSeverity.WARN, description=why,
                               metadata={"latest_event": last[0] if last else "none"})

