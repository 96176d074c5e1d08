"""The daily sweep (03:15 America/Los_Angeles): replay guards past the replay window, expired or
used consent tokens, and ``.part`` files that cut-off uploads left in the landing directory."""

import dagster as dg

from orchestration import constants, housekeeping
from orchestration.db import store
from orchestration.defs.ingest.resources import IngestSettings
from orchestration.defs.resources import WarehouseResource


@dg.op(description="Run every cleanup once and record the counts (pipeline_events: housekeeping).")
def sweep(context: dg.OpExecutionContext, ingest: IngestSettings, warehouse: WarehouseResource) -> dg.Output:
    with store.connect(warehouse.url, role=warehouse.role_or_none) as conn:
        result = housekeeping.sweep(conn, ingest.landing())
    context.log.info(f"housekeeping: {result.counts()}")
    return dg.Output(None, metadata=result.counts())


@dg.job(description="Daily housekeeping: replay guards, consent tokens, orphaned .part files.",
        executor_def=dg.in_process_executor)
def housekeeping_job():
    sweep()


housekeeping_schedule = dg.ScheduleDefinition(
    name="housekeeping_schedule", job=housekeeping_job, cron_schedule="15 3 * * *",
    execution_timezone=constants.TIMEZONE, default_status=dg.DefaultScheduleStatus.RUNNING,
    description="03:15 America/Los_Angeles: the daily sweep.")


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[housekeeping_job], schedules=[housekeeping_schedule])
