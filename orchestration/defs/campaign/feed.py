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
from orchestration.campaign import delivery, feeder
from orchestration.defs.campaign.resources import FeederSettings
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.campaign.marts import campaign_dbt_models

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
    # Blocking: a paused sender stops the run here, so nothing downstream of the feed runs on it.
    dg.AssetCheckSpec("sender_health", asset="campaign_feed", blocking=True,
                      description="The sender is not paused: hard-bounce and complaint rates of the last fed "
                                  "leads below the breaker's limits (EC_BREAKER_*). ERROR while paused (nobody "
                                  "fed; `equity campaign resume --reason ...` lifts it); WARN while a vendor list "
                                  "is held back."),
]


def _health_check(health) -> dg.AssetCheckResult:
    if health is None:
        return dg.AssetCheckResult(check_name="sender_health", passed=True, description="not judged on this day")
    overall = health.overall
    return dg.AssetCheckResult(
        check_name="sender_health", passed=not health.paused and not health.held,
        severity=dg.AssetCheckSeverity.ERROR if health.paused else dg.AssetCheckSeverity.WARN,
        description=health.describe(),
        metadata={"sends_in_window": overall.sends, "hard_bounce_rate": round(overall.hard_bounce_rate, 4),
                  "complaint_rate": round(overall.complaint_rate, 4), "lists_held": len(health.held)})


def _checks(*, shortfall: int = 0, shortfall_reason: str = "", push_ok: bool = True,
            push: str = "no endpoint configured", health=None) -> list[dg.AssetCheckResult]:
    return [_health_check(health),
        dg.AssetCheckResult(check_name="feed_shortfall", passed=shortfall == 0,
                            severity=dg.AssetCheckSeverity.WARN, description=shortfall_reason or "cap reached",
                            metadata={"shortfall": shortfall}),
        dg.AssetCheckResult(check_name="campaign_push", passed=push_ok, severity=dg.AssetCheckSeverity.ERROR,
                            description=push),
    ]


@dg.asset(partitions_def=feed_partitions, group_name="campaign", kinds={"postgres", "csv"},
          deps=[get_asset_key_for_model([campaign_dbt_models], "mv_contactable_leads")],
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
                         role=warehouse.role_or_none, email_gap_days=feeder_settings.email_gap_days,
                         breaker_settings=feeder_settings.breaker_settings(),
                         mailboxes=feeder_settings.sending_mailboxes())
    context.log.info(f"fed {result.fed_now} leads for {day} ({result.fed_for_date}/{result.daily_cap} for the date)"
                     + (f"; shortfall: {result.shortfall_reason}" if result.shortfall else ""))
    meta: dict = {
        "fed": result.fed_now, "fed_for_date": result.fed_for_date, "daily_cap": result.daily_cap,
        "shortfall": result.shortfall, "shortfall_reason": result.shortfall_reason or "none",
        "score_min": result.score_min if result.score_min is not None else 0,
        "score_max": result.score_max if result.score_max is not None else 0,
        "by_broker": dg.MetadataValue.json(result.by_broker),
        **_health_metadata(result),
    }
    if result.paused:
        context.log.warning(f"{result.paused}: nobody fed for {day}; `equity campaign resume --reason ...` lifts it")
    # A paused sender sends nothing, not even an earlier batch's unfinished push: it waits for the resume.
    sent = delivery.Sent(summary="paused: nothing sent") if result.paused else delivery.send(
        warehouse.url, day, outbox=Path(feeder_settings.outbox_dir), links=feeder_settings.consent_links(),
        sealer=feeder_settings.sealer(), endpoint=feeder_settings.endpoint(), instantly=feeder_settings.push_settings(),
        role=warehouse.role_or_none, run_id=context.run.run_id, warn=context.log.warning)
    meta.update(_sent_metadata(sent, result.batch_id))
    push_ok, push = sent.ok, sent.summary
    return dg.MaterializeResult(metadata=meta, check_results=_checks(
        shortfall=result.shortfall, shortfall_reason=result.shortfall_reason or "", push_ok=push_ok, push=push,
        health=result.health))


def _health_metadata(result: feeder.FeedResult) -> dict:
    """The breaker's figures as plain numbers (the UI plots them per feed date), the pause, the
    lists held back, and the mailboxes' spread."""
    health = result.health
    meta: dict = {}
    if health is not None:
        overall = health.overall
        meta.update({
            "paused": bool(health.paused), "pause_reason": health.paused["reason"] if health.paused else "none",
            "sends_in_window": overall.sends, "hard_bounces_in_window": overall.hard_bounces,
            "complaints_in_window": overall.complaints,
            "hard_bounce_rate": round(overall.hard_bounce_rate, 4), "complaint_rate": round(overall.complaint_rate, 4),
            "lists_held": len(health.held),
            "lists": dg.MetadataValue.json([f.as_dict() | {"held": any(p["upload_id"] == f.upload_id
                                                                          for p in health.held)}
                                            for f in health.figures[1:]]),
        })
        if health.held:
            meta["held_lists"] = dg.MetadataValue.json({p["upload_id"]: p["reason"] for p in health.held})
    if result.mailbox_capacity is not None:
        meta.update({"mailbox_capacity": result.mailbox_capacity,
                     "by_mailbox": dg.MetadataValue.json(result.by_mailbox)})
    return meta


def _sent_metadata(sent: delivery.Sent, batch_id: int | None) -> dict:
    meta: dict = {}
    if sent.deliveries:
        last = sent.deliveries[-1]
        meta.update({"export": dg.MetadataValue.path(str(last.export)), "batch_id": last.batch_id,
                     "exported_rows": sum(d.rows for d in sent.deliveries),
                     "phones_withheld": sum(d.phones_withheld for d in sent.deliveries)})
        if len(sent.deliveries) > 1 or last.batch_id != batch_id:
            meta["recovered_exports"] = dg.MetadataValue.json([str(d.export) for d in sent.deliveries
                                                               if d.batch_id != batch_id])
    if sent.post_statuses:
        meta["post_statuses"] = dg.MetadataValue.json(sent.post_statuses)
    if sent.pushed is not None:
        meta.update({"pushed": sent.pushed["pushed"], "push_failed": sent.pushed["failed"],
                     "push_waited_s": sent.pushed["waited_s"]})
    return meta


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
