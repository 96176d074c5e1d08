"""Health checks of the upload door and the DLQ, evaluated every 15 minutes by
``pipeline_health_job`` with the campaign's freshness checks (defs/campaign/checks.py) (thresholds: ``HealthSettings``, from EC_MAX_BAD_SIGNATURE_PERCENT and
EC_MAX_REPLAY_PERCENT)."""

import dagster as dg

from orchestration.ops import health
from orchestration.db import store
from orchestration.defs.campaign.checks import contactable_fresh, fed_today
from orchestration.defs.ingest.resources import HealthSettings
from orchestration.defs.resources import WarehouseResource


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec("hmac_failure_rate", asset="landed_file",
                          description="Share of the last hour's uploads refused for a bad signature "
                                      "(limit: EC_MAX_BAD_SIGNATURE_PERCENT, default 20)."),
        dg.AssetCheckSpec("duplicate_upload_rate", asset="landed_file",
                          description="Share of the last day's uploads refused as replays "
                                      "(limit: EC_MAX_REPLAY_PERCENT, default 50)."),
        dg.AssetCheckSpec("dlq_needs_a_person", asset="leads",
                          description="Open DLQ items that no job will retry (docs/dlq.md)."),
    ],
    can_subset=True,   # materialising an ingest asset alone must not drag every health check along
    description="Door and DLQ health, from pipeline_events and pipeline_dlq.")
def pipeline_health(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                    health_settings: HealthSettings):
    limits = health_settings.thresholds()
    wanted = {key.name for key in context.selected_asset_check_keys}
    with warehouse.connect() as conn:
        hour, day = store.door_counts(conn, 1), store.door_counts(conn, 24)
        waiting = store.dlq_needing_a_person(conn)
    ok, why, rate = health.rate_verdict(hour, "bad_signature", limits.max_bad_signature_rate, limits.min_uploads,
                                        "refused for a bad signature", "hour")
    results = [dg.AssetCheckResult(check_name="hmac_failure_rate", asset_key="landed_file", passed=ok,
                                   severity=dg.AssetCheckSeverity.ERROR, description=why,
                                   metadata={"rate": round(rate, 4),
                                             **{f"last_hour_{k}": v for k, v in hour.items()}})]
    ok, why, rate = health.rate_verdict(day, "replay", limits.max_replay_rate, limits.min_uploads,
                                        "replays of earlier uploads", "day")
    results.append(dg.AssetCheckResult(check_name="duplicate_upload_rate", asset_key="landed_file", passed=ok,
                                       severity=dg.AssetCheckSeverity.WARN, description=why,
                                       metadata={"rate": round(rate, 4)}))
    ok, why = health.dlq_verdict(waiting)
    results.append(dg.AssetCheckResult(check_name="dlq_needs_a_person", asset_key="leads", passed=ok,
                                       severity=dg.AssetCheckSeverity.WARN, description=why,
                                       metadata={"open": sum(waiting.values())}))
    yield from (r for r in results if r.check_name in wanted)


pipeline_health_job = dg.define_asset_job(
    "pipeline_health_job", selection=dg.AssetSelection.checks(pipeline_health, contactable_fresh, fed_today),
    executor_def=dg.in_process_executor,
    description="Door and DLQ health, and whether the morning's refresh and feed happened (checks only: no asset "
                "is materialised).")

pipeline_health_schedule = dg.ScheduleDefinition(
    name="pipeline_health_schedule", job=pipeline_health_job, cron_schedule="*/15 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 15 minutes: door and DLQ health, the contactable view's freshness, today's feed.")

