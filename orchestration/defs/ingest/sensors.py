"""The upload sensor and the job it launches: one dynamic partition and one run per accepted upload.

Each tick (bounded work, well inside Dagster's 60 s tick limit):
1. verifies up to ``max_sidecars_per_tick`` signed drops in ``incoming/`` (the ±5 min window is
   measured from the file's arrival, i.e. its mtime) and lands or quarantines them;
2. lists manifests in ``uploads/`` modified since the cursor minus a safety lag, and requests a
   run for each upload id that is not yet a partition (run_key = upload id, so never twice).
The cursor (max manifest mtime seen) survives restarts; the lag and the partition check mean a
file that lands late, or while a tick is running, is never skipped.
"""

import json
import time
from datetime import UTC, datetime

import dagster as dg

from orchestration.db import store
from orchestration.defs.ingest.assets import GROUP, uploads_partitions
from orchestration.defs.ingest.resources import IngestSettings
from orchestration.defs.resources import WarehouseResource
from orchestration.core.landing import SIDECAR_SUFFIX
from orchestration.ingest.receipt import Receiver

HEALTH_CHECKS = [dg.AssetCheckKey(dg.AssetKey("landed_file"), "hmac_failure_rate"),
                 dg.AssetCheckKey(dg.AssetKey("landed_file"), "duplicate_upload_rate"),
                 dg.AssetCheckKey(dg.AssetKey("leads"), "dlq_needs_a_person")]
LAG_NS = 120 * 1_000_000_000
SIDECAR_BUDGET_S = 30.0

# One process per run, not one per step: each step would otherwise spend tens of seconds importing
# dagster, dbt, pandas and pyarrow in a process of its own before computing for a second or two.
# The upload's assets and its own checks (reject_rate, verification_rate, records_reconcile); the door/DLQ health checks, which
# also target ingest assets, run on their own schedule (pipeline_health_job), not in every ingest.
ingest_job = dg.define_asset_job(
    "ingest_upload", selection=dg.AssetSelection.groups(GROUP) - dg.AssetSelection.checks(*HEALTH_CHECKS),
    executor_def=dg.in_process_executor,
    tags={"equity/writes": "leads"},  # one ingest at a time writes leads (dagster.yaml)
    description="Take one accepted upload from its landed file to merged leads.",
)


def process_sidecars(log, ingest: IngestSettings, warehouse: WarehouseResource) -> list[str]:
    """Verify signed drops (a CSV plus its ``.sig.json``); land or quarantine each. Returns notes."""
    landing = ingest.landing()
    receiver = Receiver(landing, ingest.signing_keys(), warehouse.url, role=warehouse.role_or_none)
    notes = []
    started = time.monotonic()
    for sidecar in landing.scan_sidecars()[: ingest.max_sidecars_per_tick]:
        if time.monotonic() - started > SIDECAR_BUDGET_S:
            break
        data_file = sidecar.with_name(sidecar.name[: -len(SIDECAR_SUFFIX)])
        if not data_file.exists():
            continue  # the CSV has not arrived yet: wait for it
        arrived = max(data_file.stat().st_mtime, sidecar.stat().st_mtime)
        try:
            headers = json.loads(sidecar.read_text())
            if not isinstance(headers, dict):
                raise ValueError("not an object")
        except (ValueError, OSError):
            headers = {}
        outcome = receiver.receive_file(data_file, {str(k): str(v) for k, v in headers.items()},
                                        received_at=datetime.fromtimestamp(arrived, UTC))
        # Accepted bytes now live under uploads/, refused ones under quarantine/: the drop goes.
        data_file.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        notes.append(f"{data_file.name}: {outcome.status} {outcome.code}")
        log.info(f"signed drop {data_file.name}: {outcome.status} {outcome.code} {outcome.message}")
    return notes


@dg.sensor(job=ingest_job, minimum_interval_seconds=15, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Launches ingest for each newly accepted upload (HTTP or signed drop).")
def upload_sensor(context: dg.SensorEvaluationContext, ingest: IngestSettings, warehouse: WarehouseResource):
    notes = process_sidecars(context.log, ingest, warehouse)
    cursor = json.loads(context.cursor) if context.cursor else {"mtime_ns": 0}
    since = max(0, int(cursor.get("mtime_ns", 0)) - LAG_NS)
    candidates = ingest.landing().scan_manifests(since)
    known = set(context.instance.get_dynamic_partitions(uploads_partitions.name))
    new = [(m, uid) for m, uid in candidates if uid not in known][: ingest.max_uploads_per_tick]
    if not new:
        return dg.SkipReason("no new uploads" + (f" ({'; '.join(notes)})" if notes else ""))
    # Only advance the cursor over what this tick handed on, so a capped tick resumes where it stopped.
    high = max(m for m, _ in new)
    keys = [uid for _, uid in new]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=k, run_key=k, tags={"upload_id": k}) for k in keys],
        dynamic_partitions_requests=[uploads_partitions.build_add_request(keys)],
        cursor=json.dumps({"mtime_ns": max(high, int(cursor.get("mtime_ns", 0)))}),
    )


@dg.sensor(job=ingest_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Re-runs the ingest of uploads whose last run failed for a transient reason (lost "
                       "connection, deadlock, lock timeout) once their DLQ retry time has come.")
def upload_retry_sensor(context: dg.SensorEvaluationContext, ingest: IngestSettings, warehouse: WarehouseResource):
    with warehouse.connect() as conn, conn.transaction():
        due = store.due_upload_retries(conn, ingest.max_uploads_per_tick)
    if not due:
        return dg.SkipReason("no transient ingest failure is due for a retry")
    for dlq_id, upload_id, attempt in due:
        context.log.info(f"retrying upload {upload_id} (DLQ item {dlq_id}, attempt {attempt})")
    return dg.SensorResult(run_requests=[
        dg.RunRequest(partition_key=upload_id, run_key=f"dlq-{dlq_id}-{attempt}",
                      tags={"upload_id": upload_id, "equity/dlq_retry": str(dlq_id)})
        for dlq_id, upload_id, attempt in due])
