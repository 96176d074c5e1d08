"""The 06:00 PT weekday feed, its job and its schedule.

Feed dates are partitions of a weekday time-window definition (06:00 PT, Mon-Fri): the window of
date D opens at 06:00 on D and the schedule's tick at that moment requests D itself — computed from
the tick's own time, so Monday's tick is Monday's feed. (A schedule derived from the partitions
with ``build_schedule_from_partitioned_job`` would request the window that just closed: on Monday,
Friday's.) ``end_offset=2`` makes the current and the next feed date selectable in the UI, so an
operator can prepare the next morning (the cap still holds: the 06:00 run then only tops up). A
missed morning is a backfill of its date.
"""

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration import constants
from orchestration.campaign import feeder
from orchestration.db import store
from orchestration.defs.campaign.resources import FeederSettings
from orchestration.defs.resources import WarehouseResource
# the module, not the assets object: this module's own definitions are collected by attribute
from orchestration.defs.warehouse import dbt as warehouse_dbt

feed_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule=constants.FEED_CRON, timezone=constants.TIMEZONE, fmt="%Y-%m-%d", start="2026-01-05",
    end_offset=2)


FEED_CHECKS = [
    dg.AssetCheckSpec("feed_shortfall", asset="campaign_feed",
                      description="The date got its full daily cap; a WARN names why not (few contactable "
                                  "leads, broker caps...)."),
    dg.AssetCheckSpec("campaign_push", asset="campaign_feed",
                      description="The export reached the campaign endpoint (when one is configured); an "
                                  "ERROR leaves the export in the DLQ."),
]


def _checks(*, shortfall: int = 0, shortfall_reason: str = "", push_ok: bool = True,
            push: str = "no endpoint configured") -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(check_name="feed_shortfall", passed=shortfall == 0,
                            severity=dg.AssetCheckSeverity.WARN, description=shortfall_reason or "cap reached",
                            metadata={"shortfall": shortfall}),
        dg.AssetCheckResult(check_name="campaign_push", passed=push_ok, severity=dg.AssetCheckSeverity.ERROR,
                            description=push),
    ]


@dg.asset(partitions_def=feed_partitions, group_name="campaign", kinds={"postgres", "csv"},
          deps=[get_asset_key_for_model([warehouse_dbt.warehouse_dbt_models], "mv_contactable_leads")],
          check_specs=FEED_CHECKS,
          description="Up to daily_cap top-scored contactable leads for the feed date, each fed once, ever.")
def campaign_feed(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                  feeder_settings: FeederSettings) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    ok, why = feeder.is_feed_day(day, feeder_settings.holidays)
    if not ok:
        context.log.info(why)
        return dg.MaterializeResult(metadata={"fed": 0, "skipped": why},
                                    check_results=_checks(shortfall_reason=why, push="no feed on this day"))
    result = feeder.feed(warehouse.url, day, daily_cap=feeder_settings.daily_cap, run_id=context.run.run_id,
                         role=warehouse.role_or_none, email_gap_days=feeder_settings.email_gap_days)
    context.log.info(f"fed {result.fed_now} leads for {day} ({result.fed_for_date}/{result.daily_cap} for the date)"
                     + (f"; shortfall: {result.shortfall_reason}" if result.shortfall else ""))
    meta: dict = {
        "fed": result.fed_now, "fed_for_date": result.fed_for_date, "daily_cap": result.daily_cap,
        "shortfall": result.shortfall, "shortfall_reason": result.shortfall_reason or "none",
        "score_min": result.score_min if result.score_min is not None else 0,
        "score_max": result.score_max if result.score_max is not None else 0,
        "by_broker": dg.MetadataValue.json(result.by_broker),
    }
    push_ok, push = True, "no endpoint configured" if feeder_settings.endpoint_url == "" else "nothing to send"
    # Every batch of the date without an export gets one now: this run's, or one whose export
    # failed after its feed committed (a re-run of the date completes it, feeding nobody twice).
    deliveries = feeder.deliver(warehouse.url, day, Path(feeder_settings.outbox_dir), feeder_settings.consent_links(),
                                sealer=feeder_settings.sealer(), role=warehouse.role_or_none,
                                run_id=context.run.run_id)
    if deliveries:
        meta["export"] = dg.MetadataValue.path(str(deliveries[-1].export))
        meta["batch_id"] = deliveries[-1].batch_id
        meta["exported_rows"] = sum(d.rows for d in deliveries)
        meta["phones_withheld"] = sum(d.phones_withheld for d in deliveries)
        if len(deliveries) > 1 or deliveries[-1].batch_id != result.batch_id:
            meta["recovered_exports"] = dg.MetadataValue.json([str(d.export) for d in deliveries
                                                               if d.batch_id != result.batch_id])
    for delivery in deliveries:
        if feeder_settings.endpoint_url:
            path = delivery.export
            post = feeder.post_with_retry(feeder_settings.endpoint_url, path.read_bytes(),
                                          attempts=feeder_settings.post_attempts,
                                          backoff_s=feeder_settings.post_backoff_s)
            meta["post_statuses"] = dg.MetadataValue.json(post.statuses)
            with store.connect(warehouse.url, role=warehouse.role_or_none) as conn, conn.transaction():
                for status in post.statuses:
                    store.record_event(conn, "campaign_post", stage="campaign_feed", run_id=context.run.run_id,
                                       http_status=status, details={"batch_id": delivery.batch_id})
                if not post.ok:
                    # Retried by dlq_retry_job (every 15 minutes, doubling delays) until delivered.
                    store.record_dlq(conn, "campaign_feed", f"POST of batch {delivery.batch_id} failed: {post.error}",
                                     {"batch_id": delivery.batch_id, "export": str(path), "statuses": post.statuses},
                                     retry_in_s=feeder_settings.dlq_retry_base_s)
            push_ok = push_ok and post.ok
            push = (f"sent (HTTP {post.statuses[-1]})" if post.ok else
                    f"failed after {post.attempts} attempts ({post.error}); the export is in the DLQ")
            if not post.ok:
                context.log.warning(f"POST to the campaign endpoint failed after {post.attempts} attempts "
                                    f"({post.error}); the batch is recorded and the export kept in the DLQ")
    instantly = feeder_settings.push_settings()
    if instantly.enabled:
        pushed = feeder.push_date(warehouse.url, day, feeder_settings.consent_links(), instantly,
                                  sealer=feeder_settings.sealer(), role=warehouse.role_or_none,
                                  run_id=context.run.run_id)
        meta["pushed"], meta["push_failed"] = pushed["pushed"], pushed["failed"]
        meta["push_waited_s"] = pushed["waited_s"]
        ok = pushed["failed"] == 0
        push_ok = push_ok and ok
        push = (push + "; " if feeder_settings.endpoint_url else "") + (
            f"Instantly: {pushed['pushed']} pushed" if ok else
            f"Instantly: {pushed['failed']} leads not pushed (see campaign_pushes); re-run this date to retry them")
    return dg.MaterializeResult(metadata=meta, check_results=_checks(
        shortfall=result.shortfall, shortfall_reason=result.shortfall_reason or "", push_ok=push_ok, push=push))


campaign_feed_job = dg.define_asset_job("campaign_feed_job", selection=[campaign_feed],
                                        executor_def=dg.in_process_executor,  # one step: no process of its own
                                        tags={"equity/feed": "campaign"},  # one feed at a time (dagster.yaml)
                                        description="Feed one weekday's batch into the campaign.")


@dg.schedule(job=campaign_feed_job, cron_schedule=constants.FEED_CRON, execution_timezone=constants.TIMEZONE,
             default_status=dg.DefaultScheduleStatus.RUNNING, name="campaign_feed_schedule",
             description="06:00 PT Monday-Friday: the feed for that date (holidays skipped).")
def campaign_feed_schedule(context: dg.ScheduleEvaluationContext, feeder_settings: FeederSettings):
    when: datetime = context.scheduled_execution_time
    day = when.astimezone(ZoneInfo(constants.TIMEZONE)).date()
    ok, why = feeder.is_feed_day(day, feeder_settings.holidays)
    if not ok:
        return dg.SkipReason(why)
    key = day.isoformat()
    return dg.RunRequest(partition_key=key, run_key=f"campaign_feed:{key}", tags={"feed_date": key})
