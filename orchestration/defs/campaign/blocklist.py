"""Nightly (02:30 PT): our suppressions and Instantly's block list made the same, before the
05:30 refresh and the 06:00 feed read them (``orchestration.campaign.blocklist``). Off, and
materialised as "skipped", unless the Instantly base URL and API key are set."""

import dagster as dg

from orchestration import constants
from orchestration.campaign import blocklist
from orchestration.defs.campaign.resources import FeederSettings
from orchestration.defs.resources import WarehouseResource

SYNC_CHECK = dg.AssetCheckSpec(
    "blocklist_in_sync", asset="instantly_blocklist",
    description="After the sync, every address suppressed here (that this database can name) is on Instantly's "
                "block list and every address on it is suppressed here; ERROR otherwise (entries removed inside "
                "Instantly, a push it did not take).")


@dg.asset(group_name="campaign", kinds={"postgres", "api"}, check_specs=[SYNC_CHECK],
          description="Instantly's block list and our suppressions, synced both ways: pushed, pulled, drift.")
def instantly_blocklist(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                        feeder_settings: FeederSettings) -> dg.MaterializeResult:
    settings = feeder_settings.blocklist_settings()
    if not settings.enabled:
        return dg.MaterializeResult(
            metadata={"skipped": "Instantly is not configured (EC_INSTANTLY_BASE_URL, EC_INSTANTLY_API_KEY)"},
            check_results=[dg.AssetCheckResult(check_name="blocklist_in_sync", passed=True,
                                               description="not configured: nothing to keep in sync")])
    with warehouse.connect() as conn:
        result = blocklist.sync(conn, feeder_settings.sealer(), settings, run_id=context.run.run_id)
    context.log.info(f"block list: {result.as_dict()}")
    drift = (f"{result.missing_there} suppressed here but not on Instantly's block list, {result.missing_here} "
             "on it but not suppressed here")
    return dg.MaterializeResult(metadata=result.as_dict(), check_results=[dg.AssetCheckResult(
        check_name="blocklist_in_sync", passed=result.drift == 0, severity=dg.AssetCheckSeverity.ERROR,
        description="in sync" if result.drift == 0 else drift, metadata={"drift": result.drift})])


blocklist_sync_job = dg.define_asset_job("blocklist_sync_job", selection=[instantly_blocklist],
                                         executor_def=dg.in_process_executor,
                                         description="Sync Instantly's block list and our suppressions both ways.")

blocklist_sync_schedule = dg.ScheduleDefinition(
    name="blocklist_sync_schedule", job=blocklist_sync_job, cron_schedule="30 2 * * *",
    execution_timezone=constants.TIMEZONE, default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:30 PT daily: push our suppressions to Instantly's block list and pull its entries back.")
