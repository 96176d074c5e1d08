"""The dashboards after each ingest: a successful ``ingest_upload`` run requests
``dashboards_job`` — the dashboard marts (dbt) and their charts — so the upload shows on the
uploads, errors and vendor dashboards without waiting for the 05:30 refresh (which builds them too)."""

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.defs.campaign.marts import campaign_dbt_models
from orchestration.defs.dashboards.assets import DASHBOARDS
from orchestration.defs.ingest.sensors import ingest_job

MARTS = ("int_lead_origin", "uploads_daily", "broker_performance", "verification_providers", "errors_daily",
         "score_distribution", "vendor_roi")

dashboards_job = dg.define_asset_job(
    "dashboards_job",
    selection=dg.AssetSelection.assets(*[get_asset_key_for_model([campaign_dbt_models], m) for m in MARTS],
                                       *DASHBOARDS),
    executor_def=dg.in_process_executor,
    description="Rebuild the dashboard marts (dbt) and their charts.")


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[ingest_job],
                      request_job=dashboards_job, name="dashboards_after_ingest", minimum_interval_seconds=30,
                      default_status=dg.DefaultSensorStatus.RUNNING,
                      description="After each successful ingest run: rebuild the dashboards.")
def dashboards_after_ingest(context: dg.RunStatusSensorContext):
    return dg.RunRequest(run_key=f"dashboards:{context.dagster_run.run_id}",
                         tags={"equity/after_ingest": context.dagster_run.run_id})
