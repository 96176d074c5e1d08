"""Ingest assets, one partition per accepted upload: raw_upload -> leads_staging -> validated_leads
-> deduped_leads. Thin wrappers: the work is in orchestration.ingest.pipeline."""


from dagster import (
    AssetExecutionContext,
    DynamicPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
    define_asset_job,
)

from orchestration.defs.resources import IngestSettings, WarehouseResource
from orchestration.ingest import pipeline

uploads_partitions = DynamicPartitionsDefinition(name="uploads")


def _ctx(context: AssetExecutionContext, ingest: IngestSettings, warehouse: WarehouseResource):
    return ingest.pipeline_context(warehouse, run_id=context.run_id, log=context.log.info)


def _table(counts: dict) -> MetadataValue:
    rows = "\n".join(f"| {k} | {v:,} |" if isinstance(v, int) else f"| {k} | {v} |" for k, v in counts.items())
    return MetadataValue.md("| reason | rows |\n| --- | --- |\n" + rows if rows else "none")


@asset(partitions_def=uploads_partitions, group_name="ingest", kinds={"csv"},
       description="The verified bytes of one upload (SHA-256 re-checked on every run).")
def raw_upload(context: AssetExecutionContext, ingest: IngestSettings,
               warehouse: WarehouseResource) -> MaterializeResult:
    manifest, result = pipeline.check_raw(_ctx(context, ingest, warehouse), context.partition_key)
    return MaterializeResult(metadata={
        "bytes": result.counts["bytes"], "source": manifest.source, "sha256": manifest.sha256,
        "received_at": manifest.received_at, "key_id": manifest.key_id, "filename": manifest.filename,
        "door": manifest.door, "duration_s": round(result.seconds, 3)})


@asset(partitions_def=uploads_partitions, group_name="ingest", deps=[raw_upload], kinds={"postgres"},
       description="The upload's rows COPYed as text into leads_staging through its column profile.")
def leads_staging(context: AssetExecutionContext, ingest: IngestSettings,
                  warehouse: WarehouseResource) -> MaterializeResult:
    r = pipeline.stage(_ctx(context, ingest, warehouse), context.partition_key)
    return MaterializeResult(metadata={
        **{k: v for k, v in r.counts.items()}, "encoding": r.details["encoding"],
        "rows_per_s": round(r.rows_per_second), "duration_s": round(r.seconds, 3),
        "extra_columns": MetadataValue.json(r.details["extra_columns"]),
        "column_mapping": MetadataValue.json(r.details["mapping"])})


@asset(partitions_def=uploads_partitions, group_name="ingest", deps=[leads_staging], kinds={"pandas", "postgres"},
       description="Normalised, pandera-validated, in-file-deduplicated rows (leads_validated); rejects in the DLQ.")
def validated_leads(context: AssetExecutionContext, ingest: IngestSettings,
                    warehouse: WarehouseResource) -> MaterializeResult:
    r = pipeline.validate_upload(_ctx(context, ingest, warehouse), context.partition_key)
    return MaterializeResult(metadata={
        **r.counts, "rows_per_s": round(r.rows_per_second), "duration_s": round(r.seconds, 3),
        "reject_reasons": _table(r.details["reject_reasons"]),
        "unknown_verification_codes": _table(r.details["unknown_codes"])})


@asset(partitions_def=uploads_partitions, group_name="ingest", deps=[validated_leads], kinds={"postgres"},
       description="The upload merged into leads by MAK -> (APN, state) -> addr_hash with safe merges.")
def deduped_leads(context: AssetExecutionContext, ingest: IngestSettings,
                  warehouse: WarehouseResource) -> MaterializeResult:
    r = pipeline.merge(_ctx(context, ingest, warehouse), context.partition_key)
    return MaterializeResult(metadata={
        **r.counts, "rows_per_s": round(r.rows_per_second), "duration_s": round(r.seconds, 3)})


INGEST_ASSETS = [raw_upload, leads_staging, validated_leads, deduped_leads]

ingest_job = define_asset_job(
    "ingest_upload", selection=INGEST_ASSETS,
    description="Take one accepted upload from verified bytes to merged leads.",
)
