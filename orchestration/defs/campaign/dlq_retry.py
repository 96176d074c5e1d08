"""Every 15 minutes: retry the campaign pushes the DLQ holds whose retry time has come (see
``orchestration.campaign.dlq``: delivered rows are resolved, others wait longer or are left for a person)."""

import dagster as dg

from orchestration import constants
from orchestration.campaign import dlq
from orchestration.defs.campaign.resources import FeederSettings
from orchestration.defs.resources import WarehouseResource


@dg.op(description="POST each due export once more; resolve, reschedule or leave for a person.")
def retry_campaign_pushes(context: dg.OpExecutionContext, warehouse: WarehouseResource,
                          feeder_settings: FeederSettings) -> dg.Output:
    with warehouse.connect() as conn:
        counts = dlq.retry_campaign_pushes(conn, feeder_settings.endpoint_url,
                                           max_attempts=feeder_settings.dlq_retry_max_attempts,
                                           base_delay_s=feeder_settings.dlq_retry_base_s)
    context.log.info(f"DLQ retry: {counts or 'nothing due'}")
    return dg.Output(None, metadata={k: counts.get(k, 0) for k in
                                     ("due", "resolved", "retrying", "gave_up", "permanent", "waiting")})


@dg.job(description="Retry what the DLQ holds that time can fix (failed campaign pushes).",
        executor_def=dg.in_process_executor)
def dlq_retry_job():
    retry_campaign_pushes()


dlq_retry_schedule = dg.ScheduleDefinition(
    name="dlq_retry_schedule", job=dlq_retry_job, cron_schedule="*/15 * * * *",
    execution_timezone=constants.TIMEZONE, default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 15 minutes: retry due DLQ items.")

