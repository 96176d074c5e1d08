"""Alerts: a run-failure sensor and an asset-check-failure sensor post to the configured webhooks.

Both run by default and do nothing until ``EC_ALERT_WEBHOOK_URLS`` names a URL. The message is
built by ``orchestration.ops.alerts`` from names and the pipeline's own one-line reasons only (no PII).
"""

import warnings
from datetime import UTC, datetime, timedelta

import dagster as dg

from orchestration.ops import alerts
from orchestration.defs.alerts.resources import AlertSettings

# Check results older than this are not alerted on the very first tick (no cursor yet): a new
# deployment does not page anyone about last month.
FIRST_TICK_LOOKBACK = timedelta(hours=1)
BLOCKING_CHECK_FAILED = "DagsterAssetCheckFailedError"
# Checks whose descriptions are built from counts, rates and upload ids only, so the alert quotes them.
QUOTED_CHECKS = ("records_reconcile", "reject_rate", "sender_health")


def _stage_error(events):
    """(step key, error class, message) of the first step failure, following causes to the
    pipeline's own error where there is one."""
    for event in events:
        error = event.step_failure_data.error if event.step_failure_data else None
        chain = []
        while error is not None:
            chain.append(error)
            error = error.cause
        mine = next((e for e in chain if e.cls_name in alerts.SAFE_ERRORS), chain[0] if chain else None)
        if mine is not None:
            return event.step_key, mine.cls_name, mine.message
    return None, None, None


@dg.run_failure_sensor(name="alert_on_run_failure", minimum_interval_seconds=30,
                       default_status=dg.DefaultSensorStatus.RUNNING,
                       description="POST a failed run (job, partition, step, the pipeline's reason, a UI link) "
                                   "to EC_ALERT_WEBHOOK_URLS.")
def alert_on_run_failure(context: dg.RunFailureSensorContext, alert_settings: AlertSettings):
    if not alert_settings.urls():
        return dg.SkipReason("no EC_ALERT_WEBHOOK_URLS configured")
    run = context.dagster_run
    step, cls_name, message = _stage_error(context.get_step_failure_events())
    if cls_name == BLOCKING_CHECK_FAILED:
        # The run stopped because a blocking check failed (a paused sender, records that do not
        # reconcile): alert_on_check_failure posts that check with its reason, once.
        return dg.SkipReason(f"run {run.run_id} was stopped by a blocking check; alerted as a check failure")
    alert = alerts.Alert(
        kind="run_failure", title=f"run of {run.job_name} failed", run_id=run.run_id, job=run.job_name,
        partition=run.tags.get("dagster/partition"), asset=step, check=None,
        reason=alerts.safe_reason(cls_name, message), url=alerts.run_url(alert_settings.ui_base_url, run.run_id))
    sent = alert_settings.send(alert)
    context.log.info(f"alert for run {run.run_id}: {sent}")


@dg.sensor(name="alert_on_check_failure", minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="POST every failed ERROR-severity asset check (asset, check, partition, a UI link) "
                       "to EC_ALERT_WEBHOOK_URLS; WARN results show in the UI only.")
def alert_on_check_failure(context: dg.SensorEvaluationContext, alert_settings: AlertSettings):
    after = int(context.cursor) if context.cursor else None
    with warnings.catch_warnings():
        # Deprecated for 2.0, but this release has no other query for check evaluations across
        # all checks after a storage id (fetch_* covers materialisations and observations only).
        warnings.simplefilter("ignore", DeprecationWarning)
        # The first tick (no cursor) starts from the newest evaluations: read from the oldest, an
        # instance with a long history would spend its ticks walking it 200 at a time before it
        # reached today's failures.
        records = context.instance.get_event_records(
            dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after),
            ascending=after is not None, limit=200)
        if after is None:
            records = list(reversed(records))
    if records:
        context.update_cursor(str(records[-1].storage_id))
    if not alert_settings.urls():
        return dg.SkipReason("no EC_ALERT_WEBHOOK_URLS configured")
    oldest = datetime.now(UTC) - FIRST_TICK_LOOKBACK
    sent = 0
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if evaluation.passed or evaluation.severity != dg.AssetCheckSeverity.ERROR or (
                after is None and record.event_log_entry.timestamp < oldest.timestamp()):
            continue       # a WARN shows in the UI; an ERROR pages someone
        run_id = record.event_log_entry.run_id
        run = context.instance.get_run_by_id(run_id)
        asset = evaluation.asset_key.to_user_string()
        own = evaluation.check_name in QUOTED_CHECKS
        reason = (evaluation.description or "failed") if own else "failed (details in the UI)"
        alert_settings.send(alerts.Alert(
            kind="check_failure", title=f"check {evaluation.check_name} on {asset} failed "
                                        f"({evaluation.severity.value})",
            run_id=run_id, job=run.job_name if run else "?", partition=evaluation.partition,
            asset=asset, check=evaluation.check_name,
            reason=reason, url=alerts.run_url(alert_settings.ui_base_url, run_id)))
        sent += 1
    context.log.info(f"{sent} check-failure alert(s) sent")

