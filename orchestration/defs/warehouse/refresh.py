"""The 05:30 refresh: the warehouse's models, the score write-back, then the campaign's marts and
the funnel's figures and the dashboards, in one run (dbt runs twice, before and after the write-back)."""

import dagster as dg

from orchestration import constants
from orchestration.defs.campaign.funnel import funnel
from orchestration.defs.campaign.marts import campaign_dbt_models
from orchestration.defs.dashboards.assets import DASHBOARDS
from orchestration.defs.warehouse.dbt import warehouse_dbt_models
from orchestration.defs.warehouse.scores import lead_scores

contactable_refresh_job = dg.define_asset_job(
    "contactable_refresh_job",
    selection=dg.AssetSelection.assets(warehouse_dbt_models, lead_scores, campaign_dbt_models, funnel, *DASHBOARDS),
    executor_def=dg.in_process_executor,  # a few steps in order: no process of their own needed
    description="Rebuild lead scores, write them into leads, refresh mv_contactable_leads and the funnel "
                "and the dashboards (dbt build).")

contactable_refresh = dg.ScheduleDefinition(
    name="contactable_refresh", job=contactable_refresh_job, cron_schedule=constants.REFRESH_CRON,
    execution_timezone=constants.TIMEZONE, default_status=dg.DefaultScheduleStatus.RUNNING,
    description="05:30 PT daily: rebuild scores and refresh mv_contactable_leads.")
