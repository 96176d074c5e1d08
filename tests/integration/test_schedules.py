"""Schedule evaluation on real definitions: the 05:30 refresh every day, the 06:00 feed on weekdays
only, across the March 2026 DST change, requesting the feed date's own partition."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import RunRequest, SkipReason, TimeWindowPartitionsDefinition, build_schedule_context

from orchestration.defs.campaign.feed import campaign_feed_schedule, feed_partitions
from orchestration.defs.campaign.resources import FeederSettings

LA = ZoneInfo("America/Los_Angeles")
UTC = ZoneInfo("UTC")


def ticks(cron: str, start: datetime, end: datetime) -> list[datetime]:
    """The cron's fire times in Los Angeles between start and end, in UTC: the starts of the time
    windows Dagster derives from that cron (its public partitions API)."""
    windows = TimeWindowPartitionsDefinition(cron_schedule=cron, timezone="America/Los_Angeles",
                                             start=start, fmt="%Y-%m-%dT%H:%M", end_offset=1)
    starts = [windows.time_window_for_partition_key(k).start
              for k in windows.get_partition_keys(current_time=end)]
    return [t.astimezone(UTC) for t in starts if start <= t <= end]


def test_schedules_are_registered_running_in_los_angeles(defs):
    feed = defs.resolve_schedule_def("campaign_feed_schedule")
    refresh = defs.resolve_schedule_def("contactable_refresh")
    assert (feed.cron_schedule, feed.execution_timezone) == ("0 6 * * 1-5", "America/Los_Angeles")
    assert (refresh.cron_schedule, refresh.execution_timezone) == ("30 5 * * *", "America/Los_Angeles")
    assert feed.default_status.value == "RUNNING" and refresh.default_status.value == "RUNNING"


def test_tick_times_across_the_weekend_and_dst_change():
    start = datetime(2026, 3, 6, 0, 0, tzinfo=LA)
    end = datetime(2026, 3, 9, 23, 0, tzinfo=LA)
    feed = ticks("0 6 * * 1-5", start, end)
    # Friday 06:00 PST = 14:00Z; no Saturday/Sunday tick; Monday 06:00 PDT = 13:00Z (DST began 8 March).
    assert feed == [datetime(2026, 3, 6, 14, 0, tzinfo=UTC), datetime(2026, 3, 9, 13, 0, tzinfo=UTC)]
    refresh = ticks("30 5 * * *", start, end)
    assert refresh[0] == datetime(2026, 3, 6, 13, 30, tzinfo=UTC)
    assert refresh[-1] == datetime(2026, 3, 9, 12, 30, tzinfo=UTC)
    assert len(refresh) == 4  # daily, weekend included


def _evaluate(when: datetime, holidays=()):
    ctx = build_schedule_context(scheduled_execution_time=when,
                                 resources={"feeder_settings": FeederSettings(outbox_dir="/tmp/unused",
                                                                               holidays=",".join(holidays))})
    return campaign_feed_schedule(ctx)


def test_friday_and_monday_ticks_request_their_own_date():
    fri = _evaluate(datetime(2026, 3, 6, 6, 0, tzinfo=LA))
    mon = _evaluate(datetime(2026, 3, 9, 6, 0, tzinfo=LA))
    assert isinstance(fri, RunRequest) and fri.partition_key == "2026-03-06"
    assert isinstance(mon, RunRequest) and mon.partition_key == "2026-03-09"
    assert fri.run_key != mon.run_key


def test_holiday_tick_skips_with_a_reason():
    res = _evaluate(datetime(2026, 12, 25, 6, 0, tzinfo=LA), holidays=["2026-12-25"])
    assert isinstance(res, SkipReason) and "holiday" in res.skip_message


def test_thanksgiving_is_skipped_by_the_configured_calendar(stack, defs):   # stack: the environment it reads
    """The deployed resource reads EC_FEED_HOLIDAYS (default: the US federal calendar)."""
    settings = defs.get_repository_def().get_top_level_resources()["feeder_settings"]
    ctx = build_schedule_context(scheduled_execution_time=datetime(2026, 11, 26, 6, 0, tzinfo=LA),
                                 resources={"feeder_settings": settings})
    res = campaign_feed_schedule(ctx)
    assert isinstance(res, SkipReason) and "Thanksgiving Day" in res.skip_message
    ctx = build_schedule_context(scheduled_execution_time=datetime(2026, 11, 27, 6, 0, tzinfo=LA),
                                 resources={"feeder_settings": settings})
    assert isinstance(campaign_feed_schedule(ctx), RunRequest)


def test_feed_partitions_are_weekdays_with_the_window_opening_at_six():
    keys = feed_partitions.get_partition_keys_in_range(
        __import__("dagster").PartitionKeyRange("2026-03-06", "2026-03-09"))
    assert keys == ["2026-03-06", "2026-03-09"]
    window = feed_partitions.time_window_for_partition_key("2026-03-06")
    assert window.start.astimezone(LA) == datetime(2026, 3, 6, 6, 0, tzinfo=LA)
    assert window.end.astimezone(LA) == datetime(2026, 3, 9, 6, 0, tzinfo=LA)
    # The running Monday's own key exists at its 06:00 tick (end_offset), so the tick can request it.
    monday_tick = datetime(2026, 3, 9, 6, 0, 1, tzinfo=LA)
    assert "2026-03-09" in feed_partitions.get_partition_keys(current_time=monday_tick)
    assert "2026-03-07" not in feed_partitions.get_partition_keys(current_time=monday_tick + timedelta(days=3))


def test_refresh_schedule_evaluates_to_a_run_at_0530_on_friday_and_after_dst(defs):
    refresh = defs.resolve_schedule_def("contactable_refresh")
    for when in (datetime(2026, 3, 6, 5, 30, tzinfo=LA), datetime(2026, 3, 9, 5, 30, tzinfo=LA)):
        data = refresh.evaluate_tick(build_schedule_context(scheduled_execution_time=when))
        assert len(data.run_requests) == 1 and data.run_requests[0].partition_key is None
    assert refresh.job_name == "contactable_refresh_job"


def test_the_instance_retries_a_crashed_run_once_and_a_failed_step_never(instance):
    """What the daemon does with a failed run is the instance's run_retries (dagster.yaml, copied into
    DAGSTER_HOME as `equity` does): one retry, for a crash only."""
    assert instance.run_retries_enabled
    assert instance.run_retries_max_retries == 1
    assert instance.run_retries_retry_on_asset_or_op_failure is False
