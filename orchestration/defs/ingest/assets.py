"""Ingest assets, one partition per accepted upload. Each asset is named after what it holds:

- ``landed_file``      the verified bytes on disk (SHA-256 re-checked on every run)
- ``leads_staging``    the table of the upload's rows as text
- ``leads_validated``  the table of normalised, validated, in-file-deduplicated rows
- ``leads``            the table of leads the upload was merged into

Thin wrappers: the work is in ``orchestration.ingest.pipeline``.
"""

import warnings

import dagster as dg

from orchestration.defs.ingest.resources import IngestSettings
from orchestration.defs.resources import WarehouseResource
from orchestration.db import store
from orchestration.ingest import pipeline

GROUP = "ingest"
uploads_partitions = dg.DynamicPartitionsDefinition(name="uploads")


# A run tagged so (Launchpad "Add tag", or a backfill's tags) runs every stage of the upload in full
# even when nothing changed since its last merge (orchestration.ingest.fingerprint).
REPROCESS_TAG = "equity/reprocess"


def _ctx(context: dg.AssetExecutionContext, ingest: IngestSettings, warehouse: WarehouseResource):
    ctx = ingest.pipeline_context(warehouse, run_id=context.run.run_id, log=context.log.info)
    if context.run.tags.get(REPROCESS_TAG, "").lower() in ("true", "1", "yes"):
        ctx.reprocess = True
    return ctx


def _skipped(r: pipeline.StageResult) -> dg.MaterializeResult | None:
    """A re-run with nothing to do: the counts recorded then, and why nothing ran."""
    if not r.details.get("skipped"):
        return None
    return dg.MaterializeResult(metadata={
        **r.counts, "skipped": f"{r.details['skipped']} (pipeline_events id {r.details['merged_event_id']}); "
                               f"tag the run {REPROCESS_TAG}=true to run it in full",
        "duration_s": round(r.seconds, 3)})


def _table(counts: dict) -> dg.MetadataValue:
    rows = "\n".join(f"| {k} | {v:,} |" if isinstance(v, int) else f"| {k} | {v} |" for k, v in counts.items())
    return dg.MetadataValue.md("| reason | rows |\n| --- | --- |\n" + rows if rows else "none")


@dg.asset(partitions_def=uploads_partitions, group_name=GROUP, kinds={"csv"},
          description="The verified bytes of one upload, as landed (SHA-256 re-checked on every run).")
def landed_file(context: dg.AssetExecutionContext, ingest: IngestSettings,
                warehouse: WarehouseResource) -> dg.MaterializeResult:
    manifest, result = pipeline.check_landed(_ctx(context, ingest, warehouse), context.partition_key)
    return dg.MaterializeResult(metadata={
        "bytes": result.counts["bytes"], "source": manifest.source, "sha256": manifest.sha256,
        "received_at": manifest.received_at, "key_id": manifest.key_id, "filename": manifest.filename,
        "door": manifest.door, "duration_s": round(result.seconds, 3)})


@dg.asset(partitions_def=uploads_partitions, group_name=GROUP, deps=[landed_file], kinds={"postgres"},
          description="The upload's rows COPYed as text into leads_staging through its column profile.")
def leads_staging(context: dg.AssetExecutionContext, ingest: IngestSettings,
                  warehouse: WarehouseResource) -> dg.MaterializeResult:
    r = pipeline.stage(_ctx(context, ingest, warehouse), context.partition_key)
    return _skipped(r) or dg.MaterializeResult(metadata={
        **r.counts, "encoding": r.details["encoding"],
        "warnings": dg.MetadataValue.md("\n".join(f"- {w}" for w in r.details["warnings"]) or "none"),
        "malformed_records": dg.MetadataValue.json(r.details["malformed"]),
        "rows_per_s": round(r.rows_per_second), "duration_s": round(r.seconds, 3),
        "extra_columns": dg.MetadataValue.json(r.details["extra_columns"]),
        "column_mapping": dg.MetadataValue.json(r.details["mapping"])})


@dg.asset(partitions_def=uploads_partitions, group_name=GROUP, deps=[leads_staging],
          kinds={"pandas", "postgres"},
          description="Normalised, pandera-validated, in-file-deduplicated rows in leads_validated; "
                      "rejects in the DLQ. A file with too many rejects keeps no rows here (see the "
                      "blocking reject_rate check).")
def leads_validated(context: dg.AssetExecutionContext, ingest: IngestSettings,
                    warehouse: WarehouseResource) -> dg.MaterializeResult:
    r = pipeline.validate_upload(_ctx(context, ingest, warehouse), context.partition_key)
    return _skipped(r) or dg.MaterializeResult(metadata={
        **r.counts, "rows_per_s": round(r.rows_per_second), "duration_s": round(r.seconds, 3),
        "reject_rate": round(r.details["reject_rate"], 4), "refused": r.details["refusal"] is not None,
        "reject_reasons": _table(r.details["reject_reasons"]),
        "unknown_verification_codes": _table(r.details["unknown_codes"])})


@dg.asset(partitions_def=uploads_partitions, group_name=GROUP, deps=[leads_validated], kinds={"postgres"},
          description="The upload merged into leads by MAK -> (APN, state) -> addr_hash with safe merges.")
def leads(context: dg.AssetExecutionContext, ingest: IngestSettings,
          warehouse: WarehouseResource) -> dg.MaterializeResult:
    r = pipeline.merge(_ctx(context, ingest, warehouse), context.partition_key)
    return _skipped(r) or dg.MaterializeResult(metadata={
        **r.counts, "rows_per_s": round(r.rows_per_second), "duration_s": round(r.seconds, 3)})


def _records_reconcile(context: dg.AssetCheckExecutionContext,
                       warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        result = pipeline.reconcile(store.upload_summary(conn, context.partition_key))
    return dg.AssetCheckResult(
        passed=result.ok, severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(result.problems) or f"all {result.records:,} records accounted for",
        metadata={"records": result.records, "accounted": result.accounted, **result.parts})


def _upload_check(fn, **kwargs) -> dg.AssetChecksDefinition:
    """An asset check per upload partition. Partitioned checks are a preview feature of this
    Dagster release; they are what shows a result per upload in the UI, so the preview warning is
    silenced for these definitions only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.asset_check(partitions_def=uploads_partitions, **kwargs)(fn)


records_reconcile = _upload_check(
    _records_reconcile, asset=leads, name="records_reconcile", blocking=True,
    description="Every record of the file is accounted for: records = leads inserted + merged + "
                "unchanged + in-file duplicates + rejects + malformed records (and each stage took "
                "what the one before it left). Fails the run when the sums differ.")


def _reject_rate(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                 ingest: IngestSettings) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        refusal = store.validation_refusal(conn, context.partition_key)
        summary = store.upload_summary(conn, context.partition_key)
    ok, why, rate = pipeline.reject_gate(refusal, summary, ingest.max_reject_percent / 100)
    return dg.AssetCheckResult(passed=ok, severity=dg.AssetCheckSeverity.ERROR, description=why,
                               metadata={"reject_rate": round(rate, 4)})


reject_rate = _upload_check(
    _reject_rate, asset=leads_validated, name="reject_rate", blocking=True,
    description="Share of the upload's rows rejected at validation. Above EC_MAX_REJECT_PERCENT "
                "(default 20) the file is refused: its validated rows are discarded and the run stops "
                "before the merge; materialising `leads` on its own later refuses it too.")


def _verification_rate(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                       ingest: IngestSettings) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        summary = store.upload_summary(conn, context.partition_key)
    ok, why, share = pipeline.verification(summary, ingest.min_verified_percent)
    return dg.AssetCheckResult(passed=ok, severity=dg.AssetCheckSeverity.WARN, description=why,
                               metadata={"verified_share": round(share, 4)})


verification_rate = _upload_check(
    _verification_rate, asset=leads_validated, name="verification_rate",
    description="Share of the upload's leads with a verified e-mail (WARN below EC_MIN_VERIFIED_PERCENT, "
                "default 10).")
