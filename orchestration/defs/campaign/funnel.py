"""The funnel as an asset: after each refresh, the latest day's figures and the last 7 days'
totals as metadata, so the UI plots them materialisation by materialisation."""

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.campaign import funnel as funnel_figures
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.campaign.marts import campaign_dbt_models


@dg.asset(group_name="campaign", kinds={"postgres"},
          deps=[get_asset_key_for_model([campaign_dbt_models], "funnel_daily")],
          description="The funnel (uploaded -> merged -> contactable -> fed -> replied -> consented -> booked, "
                      "plus unsubscribed and bounced): the latest day's figures and the last 7 days' totals, "
                      "read from funnel_daily after the refresh, and the leads held back as not eligible, by "
                      "reason.")
def funnel(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        rows = funnel_figures.by_day(conn, 7)
        held = funnel_figures.held_back(conn)
    week = funnel_figures.totals(rows)
    latest = rows[0] if rows else {}
    context.log.info(f"funnel, last 7 days: {week}")
    meta: dict = {f"week_{k}": v for k, v in week.items()}
    meta.update({k: int(latest.get(k) or 0) for k in funnel_figures.STAGES})
    meta["day"] = str(latest.get("day", "none"))
    meta["reply_rate"] = float(latest.get("reply_rate") or 0.0)
    meta["held_back"] = held["held_back"]
    meta["held_back_by_reason"] = dg.MetadataValue.json(held["by_reason"])
    meta["table"] = dg.MetadataValue.md(("```\n" + funnel_figures.table(rows) + "\n```" if rows else "no activity yet")
                                        + "\n\n" + funnel_figures.held_back_text(held))
    return dg.MaterializeResult(metadata=meta)
