"""The daily sweep (03:15 America/Los_Angeles): replay guards past the replay window, expired or
used consent tokens, ``.part`` files that cut-off uploads left in the landing directory, and the
retention of what holds people's data (work rows of merged uploads, landed files, quarantine
records, campaign exports, DLQ payloads). The periods are the op's config: the launchpad shows
them with their defaults."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from orchestration import constants
from orchestration.ops import housekeeping
from orchestration.defs.campaign.resources import FeederSettings
from orchestration.defs.ingest.resources import IngestSettings
from orchestration.defs.resources import WarehouseResource


class RetentionConfig(dg.Config):
    work_rows_hours: float = Field(constants.WORK_ROWS_KEEP_HOURS, description=(
        "hours an upload's leads_staging/leads_validated rows stay after its merge succeeded"))
    landed_days: float = Field(constants.RETENTION_DAYS, description="days a landed CSV is kept")
    quarantine_days: float = Field(constants.RETENTION_DAYS, description="days a quarantine record is kept")
    outbox_days: float = Field(constants.RETENTION_DAYS, description="days a campaign export is kept")
    dlq_days: float = Field(constants.RETENTION_DAYS, description=(
        "days before an open DLQ item's payload loses the record it quotes (resolved ones: at once)"))


@dg.op(description="Run every cleanup once and record the counts (pipeline_events: housekeeping).")
def sweep(context: dg.OpExecutionContext, config: RetentionConfig, ingest: IngestSettings,
          feeder_settings: FeederSettings, warehouse: WarehouseResource) -> dg.Output:
    retention = housekeeping.Retention(**{**config.model_dump(), "work_rows_hours": max(
        config.work_rows_hours, ingest.keep_work_rows_hours)})   # never before the ingest's own setting
    with warehouse.connect() as conn:
        result = housekeeping.sweep(conn, ingest.landing(), outbox=Path(feeder_settings.outbox_dir), retention=retention)
    context.log.info(f"housekeeping: {result.counts()}")
    return dg.Output(None, metadata=result.counts())


@dg.job(description="Daily housekeeping: replay guards, consent tokens, orphaned .part files, retention.",
        executor_def=dg.in_process_executor)
def housekeeping_job():
    sweep()


housekeeping_schedule = dg.ScheduleDefinition(
    name="housekeeping_schedule", job=housekeeping_job, cron_schedule="15 3 * * *",
    execution_timezone=constants.TIMEZONE, default_status=dg.DefaultScheduleStatus.RUNNING,
    description="03:15 America/Los_Angeles: the daily sweep.")

