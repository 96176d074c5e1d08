"""The ingest stages, free of Dagster: each one is a function of (database, landing, upload id).

Dagster assets call these and turn the returned counts into metadata; benchmarks and tests call
them directly. Every stage writes its counts to ``pipeline_events`` and its rejects to
``pipeline_dlq``, and replaces (never appends to) what an earlier run of the same upload wrote, so
re-running a stage is idempotent.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestration.db import store
from orchestration.ingest import profiles, reader
from orchestration.ingest.landing import Landing, Manifest
from orchestration.ingest.validate import validate

Log = Callable[[str], None]


class StageFailed(RuntimeError):
    """A stage refused the upload as a whole; the message says why and what to do."""


@dataclass
class StageResult:
    counts: dict[str, int]
    seconds: float
    details: dict[str, object] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        rows = self.counts.get("rows", 0)
        return rows / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Context:
    database_url: str
    landing: Landing
    role: str | None = "pipeline_writer"
    run_id: str | None = None
    log: Log = print
    max_reject_rate: float = 0.2

    def connect(self):
        return store.connect(self.database_url, role=self.role)


def _fail(ctx: Context, stage: str, upload_id: str, message: str, **details: object) -> StageFailed:
    with ctx.connect() as conn, conn.transaction():
        store.record_event(conn, "upload_failed", stage=stage, upload_id=upload_id, run_id=ctx.run_id,
                           details={"message": message, **details})
        store.record_dlq(conn, stage, message, {"upload_id": upload_id, **details})
    return StageFailed(message)


def check_raw(ctx: Context, upload_id: str) -> tuple[Manifest, StageResult]:
    """Re-hash the landed bytes against the manifest (no time window: backfills must work)."""
    t0 = time.perf_counter()
    manifest = ctx.landing.read_manifest(upload_id)
    sha = hashlib.sha256()
    size = 0
    with open(ctx.landing.data_path(upload_id), "rb") as fh:
        while chunk := fh.read(1 << 22):
            sha.update(chunk)
            size += len(chunk)
    if sha.hexdigest() != manifest.sha256:
        raise _fail(ctx, "raw_upload", upload_id,
                    "the landed file no longer matches the SHA-256 recorded at receipt: it was changed on "
                    "disk; ask the sender to upload it again", expected_size=manifest.size, size=size)
    seconds = time.perf_counter() - t0
    with ctx.connect() as conn, conn.transaction():
        store.record_event(conn, "raw_verified", stage="raw_upload", upload_id=upload_id, run_id=ctx.run_id,
                           row_count=None, duration_ms=int(seconds * 1000),
                           details={"size": size, "source": manifest.source})
    return manifest, StageResult({"bytes": size}, seconds)


def stage(ctx: Context, upload_id: str) -> StageResult:
    """Parse the landed CSV through its column profile and COPY it into leads_staging."""
    t0 = time.perf_counter()
    manifest = ctx.landing.read_manifest(upload_id)
    data = ctx.landing.data_path(upload_id).read_bytes()
    try:
        parsed = reader.read_upload(data, manifest.source)
    except reader.FileRejected as exc:
        raise _fail(ctx, "leads_staging", upload_id, f"upload {upload_id} ({manifest.filename}) refused: {exc}",
                    filename=manifest.filename, profile=manifest.source) from None
    del data
    t_parse = time.perf_counter() - t0
    rows = len(parsed.frame)
    ctx.log(f"parsed {rows:,} rows ({parsed.encoding}, profile {manifest.source}) in {t_parse:.1f}s; "
            f"{len(parsed.bad_rows)} malformed rows set aside; COPY into leads_staging")
    with ctx.connect() as conn, conn.transaction():
        store.replace_staged(conn, upload_id, manifest.source, parsed.frame)
        store.clear_dlq_for_upload(conn, "leads_staging", upload_id)
        if parsed.bad_rows:
            store.record_dlq_many(conn, "leads_staging", [
                (b["reason"], {"upload_id": upload_id, **b}) for b in parsed.bad_rows])
        seconds = time.perf_counter() - t0
        counts = {"rows": rows, "malformed_rows": len(parsed.bad_rows),
                  "mapped_columns": len(parsed.mapping), "extra_columns": len(parsed.extra_columns)}
        store.record_event(conn, "staged", stage="leads_staging", upload_id=upload_id, run_id=ctx.run_id,
                           row_count=rows, duration_ms=int(seconds * 1000),
                           details={**counts, "encoding": parsed.encoding, "profile": manifest.source})
    ctx.log(f"staged {rows:,} rows in {seconds:.1f}s ({rows / max(seconds, 1e-9):,.0f} rows/s)")
    return StageResult(counts, seconds, {"encoding": parsed.encoding, "mapping": parsed.mapping,
                                         "extra_columns": parsed.extra_columns[:50]})


STAGED_COLUMNS = ["row_number", *profiles.CANONICAL_FIELDS]


def validate_upload(ctx: Context, upload_id: str) -> StageResult:
    """Normalise and validate staged rows, dedupe within the file, write leads_validated."""
    t0 = time.perf_counter()
    manifest = ctx.landing.read_manifest(upload_id)
    with ctx.connect() as conn:
        staged = store.read_staged(conn, upload_id, STAGED_COLUMNS)
        codes = store.code_map(conn, profiles.PROFILES[manifest.source].provider)
    if staged.empty:
        raise _fail(ctx, "validated_leads", upload_id,
                    f"nothing staged for upload {upload_id}: materialize leads_staging first")
    ctx.log(f"read {len(staged):,} staged rows in {time.perf_counter() - t0:.1f}s; normalising")
    result = validate(staged, codes)
    ctx.log(f"normalised and validated in {time.perf_counter() - t0:.1f}s: {result.counts['valid']:,} valid, "
            f"{result.counts['rejected']:,} rejected, {result.counts['in_file_duplicates']:,} in-file duplicates")
    reasons = Counter(r for rej in result.rejects for r in rej["reasons"])
    t_write = time.perf_counter()
    with ctx.connect() as conn, conn.transaction():
        store.replace_validated(conn, upload_id, result.valid)
        ctx.log(f"wrote {len(result.valid):,} validated rows in {time.perf_counter() - t_write:.1f}s")
        store.clear_dlq_for_upload(conn, "validated_leads", upload_id)
        if result.rejects:
            store.record_dlq_many(conn, "validated_leads", [
                ("; ".join(r["reasons"]), {"upload_id": upload_id, **r}) for r in result.rejects])
        seconds = time.perf_counter() - t0
        details = {**result.counts, "reject_reasons": dict(reasons.most_common(10)),
                   "unknown_codes": dict(result.unknown_codes.most_common(10)),
                   "in_file_conflicts": result.conflicts[:20]}
        store.record_event(conn, "validated", stage="validated_leads", upload_id=upload_id,
                           run_id=ctx.run_id, row_count=result.counts["valid"],
                           duration_ms=int(seconds * 1000), details=details)
    rate = result.counts["rejected"] / max(result.counts["rows"], 1)
    if rate > ctx.max_reject_rate:
        top = ", ".join(f"{k} ({v:,})" for k, v in reasons.most_common(3))
        raise _fail(ctx, "validated_leads", upload_id,
                    f"{rate:.0%} of rows were rejected (limit {ctx.max_reject_rate:.0%}); top reasons: {top}. "
                    "Fix the export (or raise max_reject_rate) and re-run this partition",
                    reject_rate=rate)
    return StageResult(result.counts, seconds, {"reject_reasons": dict(reasons.most_common(10)),
                                                "unknown_codes": dict(result.unknown_codes.most_common(10))})


def merge(ctx: Context, upload_id: str) -> StageResult:
    """Merge the upload's validated rows into leads (one transaction, set-based SQL)."""
    t0 = time.perf_counter()
    manifest = ctx.landing.read_manifest(upload_id)
    with ctx.connect() as conn, conn.transaction():
        n = store.validated_count(conn, upload_id)
        if n == 0:
            raise StageFailed(f"no validated rows for upload {upload_id}: materialize validated_leads first")
        ctx.log(f"merging {n:,} validated rows into leads")
        counts = store.merge_upload(conn, upload_id, manifest.source, manifest.received())
        counts["rows"] = n
        seconds = time.perf_counter() - t0
        store.record_event(conn, "merged", stage="deduped_leads", upload_id=upload_id, run_id=ctx.run_id,
                           row_count=n, duration_ms=int(seconds * 1000), details=counts)
    ctx.log(f"merged in {seconds:.1f}s: {counts['inserted']:,} new, {counts['updated']:,} merged, "
            f"{counts['unchanged']:,} unchanged, {counts['conflicts']:,} key conflicts")
    return StageResult(counts, seconds)
