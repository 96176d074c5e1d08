"""Health checks of the upload door and the DLQ, evaluated every 15 minutes by
``pipeline_health_job`` (thresholds: ``orchestration.health.Thresholds``)."""

import dagster as dg

from orchestration import health
from orchestration.db import store
from orchestration.defs.resources import WarehouseResource

LIMITS = health.Thresholds()


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec("hmac_failure_rate", asset="landed_file",
                          description="Share of the last hour's uploads refused for a bad signature "
                                      f"(limit {LIMITS.max_bad_signature_rate:.0%})."),
        dg.AssetCheckSpec("duplicate_upload_rate", asset="landed_file",
                          description="Share of the last day's uploads refused as replays "
                                      f"(limit {LIMITS.max_replay_rate:.0%})."),
        dg.AssetCheckSpec("dlq_needs_a_person", asset="leads",
                          description="Open DLQ items that no job will retry (docs/dlq.md)."),
    ],
    description="Door and DLQ health, from pipeline_events and pipeline_dlq.")
def pipeline_health(warehouse: WarehouseResource):
    with store.connect(warehouse.url, role=warehouse.role_or_none) as conn:
        hour, day = store.door_counts(conn, 1), store.door_counts(conn, 24)
        waiting = store.dlq_needing_a_person(conn)
    ok, why, rate = health.rate_verdict(hour, "bad_signature", LIMITS.max_bad_signature_rate, LIMITS.min_uploads,
                                        "refused for a bad signature", "hour")
    yield dg.AssetCheckResult(check_name="hmac_failure_rate", asset_key="landed_file", passed=ok,
                              severity=dg.AssetCheckSeverity.ERROR, description=why,
                              metadata={"rate": round(rate, 4), **{f"last_hour_{k}": v for k, v in hour.items()}})
    ok, why, rate = health.rate_verdict(day, "replay", LIMITS.max_replay_rate, LIMITS.min_uploads,
                                        "replays of earlier uploads", "day")
    yield dg.AssetCheckResult(check_name="duplicate_upload_rate", asset_key="landed_file", passed=ok,
                              severity=dg.AssetCheckSeverity.WARN, description=why, metadata={"rate": round(rate, 4)})
    ok, why = health.dlq_verdict(waiting)
    yield dg.AssetCheckResult(check_name="dlq_needs_a_person", asset_key="leads", passed=ok,
                              severity=dg.AssetCheckSeverity.WARN, description=why,
                              metadata={"open": sum(waiting.values())})


pipeline_health_job = dg.define_asset_job(
    "pipeline_health_job", selection=dg.AssetSelection.checks(pipeline_health), executor_def=dg.in_process_executor,
    description="Door and DLQ health checks (no asset is materialised).")

pipeline_health_schedule = dg.ScheduleDefinition(
    name="pipeline_health_schedule", job=pipeline_health_job, cron_schedule="*/15 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING, description="Every 15 minutes: door and DLQ health.")


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(asset_checks=[pipeline_health], jobs=[pipeline_health_job],
                          schedules=[pipeline_health_schedule])
