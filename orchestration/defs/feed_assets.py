"""The 06:00 PT weekday feeder and the 05:30 PT contactable refresh, as Dagster sees them.

Feed dates are partitions of a weekday time-window definition (06:00 PT, Mon-Fri): the window of
date D opens at 06:00 on D and the schedule's tick at that moment requests D itself — computed from
the tick's own time, so Monday's tick is Monday's feed (a schedule derived from the partitions would
request Friday's window on Monday; see FIELD_NOTES). ``end_offset=2`` makes the current and the next
feed date selectable in the UI, so an operator can prepare the next morning (the cap still holds:
the 06:00 run then only tops up). A missed morning is a backfill of its date.
"""

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from dagster import (
    AssetExecutionContext,
    AssetKey,
    ConfigurableResource,
    DefaultScheduleStatus,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    TimeWindowPartitionsDefinition,
    asset,
    define_asset_job,
    schedule,
)

from pydantic import Field

from orchestration import feeder
from orchestration.db import store
from orchestration.defs.resources import WarehouseResource

LA = "America/Los_Angeles"
FEED_CRON = "0 6 * * 1-5"
REFRESH_CRON = "30 5 * * *"

feed_partitions = TimeWindowPartitionsDefinition(
    cron_schedule=FEED_CRON, timezone=LA, fmt="%Y-%m-%d", start="2026-01-05", end_offset=2)


class FeederSettings(ConfigurableResource):
    """How much to feed, where the export goes, and which weekdays are holidays."""

    daily_cap: int = Field(default=250, description="most leads fed per feed date")
    outbox_dir: str = Field(description="directory for the campaign-tool CSV exports (EC_OUTBOX_DIR)")
    holidays: list[str] = Field(default_factory=list, description="YYYY-MM-DD dates with no feed")
    endpoint_url: str = Field(default="", description="optional URL to POST each export to")
    post_attempts: int = Field(default=4, description="POST attempts (429, 5xx and connection errors retry)")
    post_backoff_s: float = Field(default=1.0, description="first retry delay; doubles per attempt")


@asset(partitions_def=feed_partitions, group_name="campaign", kinds={"postgres", "csv"},
       deps=[AssetKey(["analytics", "mv_contactable_leads"])],
       description="Up to daily_cap top-scored contactable leads for the feed date, each fed once, ever.")
def campaign_feed(context: AssetExecutionContext, warehouse: WarehouseResource,
                  feeder_settings: FeederSettings) -> MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    ok, why = feeder.is_feed_day(day, feeder_settings.holidays)
    if not ok:
        context.log.info(why)
        return MaterializeResult(metadata={"fed": 0, "skipped": why})
    result = feeder.feed(warehouse.url, day, daily_cap=feeder_settings.daily_cap, run_id=context.run_id,
                         role=warehouse.role or None)
    context.log.info(f"fed {result.fed_now} leads for {day} ({result.fed_for_date}/{result.daily_cap} for the date)"
                     + (f"; shortfall: {result.shortfall_reason}" if result.shortfall else ""))
    meta: dict = {
        "fed": result.fed_now, "fed_for_date": result.fed_for_date, "daily_cap": result.daily_cap,
        "shortfall": result.shortfall, "shortfall_reason": result.shortfall_reason or "none",
        "score_min": result.score_min if result.score_min is not None else 0,
        "score_max": result.score_max if result.score_max is not None else 0,
        "by_broker": MetadataValue.json(result.by_broker),
    }
    if result.export_rows:
        path = feeder.write_outbox(Path(feeder_settings.outbox_dir), day, result.batch_id,
                                   feeder.export_csv(result.export_rows))
        meta["export"] = MetadataValue.path(str(path))
        meta["batch_id"] = result.batch_id
        if feeder_settings.endpoint_url:
            post = feeder.post_with_retry(feeder_settings.endpoint_url, path.read_bytes(),
                                          attempts=feeder_settings.post_attempts,
                                          backoff_s=feeder_settings.post_backoff_s)
            meta["post_statuses"] = MetadataValue.json(post.statuses)
            with store.connect(warehouse.url, role=warehouse.role or None) as conn, conn.transaction():
                for status in post.statuses:
                    store.record_event(conn, "campaign_post", stage="campaign_feed", run_id=context.run_id,
                                       http_status=status, details={"batch_id": result.batch_id})
                if not post.ok:
                    store.record_dlq(conn, "campaign_feed", f"POST of batch {result.batch_id} failed: {post.error}",
                                     {"batch_id": result.batch_id, "export": str(path), "statuses": post.statuses})
            if not post.ok:
                context.log.warning(f"POST to the campaign endpoint failed after {post.attempts} attempts "
                                    f"({post.error}); the batch is recorded and the export kept in the DLQ")
    return MaterializeResult(metadata=meta)


campaign_feed_job = define_asset_job("campaign_feed_job", selection=[campaign_feed],
                                     description="Feed one weekday's batch into the campaign.")


@schedule(job=campaign_feed_job, cron_schedule=FEED_CRON, execution_timezone=LA,
          default_status=DefaultScheduleStatus.RUNNING, name="campaign_feed_schedule",
          description="06:00 PT Monday-Friday: the feed for that date (holidays skipped).")
def campaign_feed_schedule(context: ScheduleEvaluationContext, feeder_settings: FeederSettings):
    when: datetime = context.scheduled_execution_time
    day = when.astimezone(ZoneInfo(LA)).date()
    ok, why = feeder.is_feed_day(day, feeder_settings.holidays)
    if not ok:
        return SkipReason(why)
    key = day.isoformat()
    return RunRequest(partition_key=key, run_key=f"campaign_feed:{key}", tags={"feed_date": key})


def refresh_schedule(job) -> ScheduleDefinition:
    return ScheduleDefinition(name="contactable_refresh", job=job, cron_schedule=REFRESH_CRON,
                              execution_timezone=LA, default_status=DefaultScheduleStatus.RUNNING,
                              description="05:30 PT daily: rebuild scores and refresh mv_contactable_leads.")
