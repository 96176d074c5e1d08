"""The dbt marts the campaign reads, as assets of the campaign group: ``mv_contactable_leads`` (who
may be contacted today; the feed picks from it) and ``funnel_daily``. Built by the refresh job after
the warehouse's models and the score write-back (``defs/warehouse/``), and the tables written
outside any run that the funnel reads, as external assets."""

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.resources import WarehouseResource
from orchestration.defs.warehouse.dbt import build
from orchestration.defs.warehouse.project import CAMPAIGN_MODELS, Translator, dbt_project

GROUP = "campaign"

# What the funnel reads besides leads: tables written outside any run of this graph (the feed's
# batch rows by campaign_feed's SQL, events by the HTTP door).
campaign_batch_leads = dg.AssetSpec(
    "campaign_batch_leads", group_name=GROUP, kinds={"postgres"},
    description="One row per fed lead, with its feed date (written by the campaign_feed asset's "
                "feed_campaign() pick).")
lead_events = dg.AssetSpec(
    "lead_events", group_name=GROUP, kinds={"postgres"},
    description="Signed inbound events (reply, unsubscribe, bounce, complaint, booked) as the POST /events "
                "door stored them, once per (source, webhook id).")


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, select=CAMPAIGN_MODELS,
            dagster_dbt_translator=Translator(GROUP))
def campaign_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    yield from build(context, dbt, warehouse)
