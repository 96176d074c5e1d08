"""The ingest stages, free of Dagster: each one is a function of (database, landing, upload id).

Dagster assets call these and turn the returned counts into metadata; benchmarks and tests call
them directly. Every stage writes its counts to ``pipeline_events`` and its rejects to
``pipeline_dlq``, and replaces (never appends to) what an earlier run of the same upload wrote, so
re-running a stage is idempotent. Every stage runs under ``guarded``: whatever goes wrong ends as an
``upload_failed`` event, a DLQ row and a StageFailed with one line that quotes no value of the
file. ``reconcile`` says where every record of the file went.
"""

from __future__ import annotations

import functools
import hashlib
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field

import pandas as pd
import psycopg

from orchestration import constants
from orchestration.privacy import deletion_list, erasure
from orchestration.privacy.blind_index import IndexKey
from orchestration.privacy.pii import Sealer
from orchestration.privacy.seal_worker import sealing_for
from orchestration.db import store
from orchestration.identity import normalize as norm
from orchestration.ingest import fingerprint, overlap, profiles, reader, second_chance
from orchestration.core.landing import Landing, Manifest
from orchestration.ingest.validate import (compact_keys, group_in_file, init_worker, slice_rows_for,
                                           validate_in_worker, validate_slice)

Log = Callable[[str], None]
UPLOAD_FAILED = "upload_failed"   # DLQ payload kind of a whole upload's failure (not a row's)


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
    retry_base_s: float = 60.0       # a transient failure is retried after this, then doubling delays
    retry_max_attempts: int = 5      # ... this many times before a person is needed
    lock_timeout_s: float = constants.MERGE_LOCK_TIMEOUT_S   # the merge's wait for another merge's lock
    keep_work_rows_hours: float = constants.WORK_ROWS_KEEP_HOURS   # 0: a merge removes its upload's work rows
    # Worker processes validating slices side by side (0: this process). Measured at 1M rows on 2
    # cores: 2 workers cut validation from 57 s to 49 s but each held ~1 GB (3.5 GB in all, against
    # 1.35 GB for one process), so the default is none; a machine with cores and memory to spare
    # sets EC_VALIDATION_WORKERS.
    validation_workers: int = 0
    # Uploads of at least this many rows seal their e-mails and phones in a lean child process
    # while this one normalises (orchestration.privacy.seal_worker); 0: always here. Below it the
    # process start (~0.06 s) costs more than the sealing it would move.
    sealing_worker_rows: int = constants.SEALING_WORKER_ROWS
    sealer: Sealer | None = field(default=None, repr=False)   # seals e-mails and phones (orchestration.privacy.pii)
    sealer_error: str | None = None                           # why there is none (a key file's problem)
    # False: a re-run of an upload whose inputs did not change since its last merge (the same
    # bytes, code, verification codes, keys and reject limit: orchestration.ingest.fingerprint)
    # skips its work and says so; True (the run tag equity/reprocess=true): every stage runs in full.
    reprocess: bool = False

    @property
    def index_key(self) -> IndexKey | None:
        """The blind-index key (recognises erased people): the sealer's."""
        return self.sealer.index if self.sealer else None

    def require_sealer(self, stage: str, upload_id: str) -> Sealer:
        if self.sealer is None:
            raise _fail(self, stage, upload_id,
                        "e-mails and phones are stored sealed, so this stage needs the PII key ring "
                        "(EC_PII_KEYS_FILE) and the index key (EC_INDEX_KEY_FILE): "
                        + (self.sealer_error or "none was given; restore the key files, or create them once with `equity keys init`"))
        return self.sealer

    def connect(self):
        return store.connect(self.database_url, role=self.role)


# SQLSTATEs time can fix: connection trouble (08), serialization failures and deadlocks (40),
# insufficient resources such as too many connections (53), a lock not available (55P03), a
# statement cancelled or timed out (57014), the server shutting down or starting (57P).
TRANSIENT_SQLSTATE_PREFIXES = ("08", "40", "53", "55P03", "57014", "57P")


def is_transient(exc: BaseException) -> bool:
    """Would the same stage, run again later on the same file, likely succeed?"""
    if isinstance(exc, psycopg.Error):
        return (exc.sqlstate or "").startswith(TRANSIENT_SQLSTATE_PREFIXES) or (
            exc.sqlstate is None and isinstance(exc, psycopg.OperationalError))
    return isinstance(exc, (ConnectionError, TimeoutError))


def _record_refusal(conn, ctx: Context, stage: str, upload_id: str, message: str, *, transient: bool = False,
                    **details: object) -> None:
    """An ``upload_failed`` event and a DLQ row: the upload as a whole was refused at ``stage``.

    The upload keeps one open failure row: an earlier one is superseded. A transient failure is
    due for a retry (the ``upload_retry_sensor`` re-runs the partition) after a delay that doubles
    with each attempt, until ``retry_max_attempts``; then it waits for a person (``gave_up``).
    """
    store.record_event(conn, "upload_failed", stage=stage, upload_id=upload_id, run_id=ctx.run_id,
                       details={"message": message, "transient": transient, **details})
    attempts = store.supersede_upload_failures(conn, upload_id)
    payload = {"upload_id": upload_id, "kind": UPLOAD_FAILED, "transient": transient, **details}
    retry_in_s = None
    if transient:
        if attempts < ctx.retry_max_attempts:
            retry_in_s = min(ctx.retry_base_s * 2 ** attempts, 6 * 3600.0)
            payload["status"] = "retrying"
        else:
            payload["status"] = "gave_up"
    store.record_dlq(conn, stage, message, payload, retry_in_s=retry_in_s, attempts=attempts)


def _fail(ctx: Context, stage: str, upload_id: str, message: str, *, transient: bool = False,
          **details: object) -> StageFailed:
    try:
        with ctx.connect() as conn, conn.transaction():
            _record_refusal(conn, ctx, stage, upload_id, message, transient=transient, **details)
    except Exception as exc:  # the database itself is down: say so in the same one line
        return StageFailed(f"{message} (and it could not be recorded: {describe(exc)})")
    return StageFailed(message)


def describe(exc: BaseException) -> str:
    """One line about an unexpected error that quotes no value of the file.

    PostgreSQL errors carry the failing row in their context and sometimes a value in their
    message ('invalid input syntax for type integer: "..."'), Python errors may carry a value in
    their text: only the kind of error, its SQLSTATE and the names of the objects involved are kept.
    """
    if isinstance(exc, psycopg.Error):
        diag = exc.diag
        where = ", ".join(f"{k} {v}" for k, v in (("table", diag.table_name), ("column", diag.column_name),
                                                    ("constraint", diag.constraint_name)) if v)
        return f"database error {type(exc).__name__} (SQLSTATE {exc.sqlstate or '?'}{', ' + where if where else ''})"
    if isinstance(exc, OSError):
        return f"{type(exc).__name__} (errno {exc.errno})"
    if isinstance(exc, MemoryError):
        return "out of memory"
    return f"unexpected {type(exc).__name__}"


@contextmanager
def guarded(ctx: Context, stage: str, upload_id: str) -> Iterator[None]:
    """Any error of a stage ends as an ``upload_failed`` event, a DLQ row and a StageFailed whose
    one line names the upload, its file and the stage — never a bare exception with row values."""
    try:
        yield
    except StageFailed:
        raise
    except Exception as exc:
        # Where it happened, for whoever fixes it: the frames' source lines, no message, no values.
        ctx.log(f"{stage} failed with {type(exc).__name__} at:\n" + "".join(traceback.format_tb(exc.__traceback__)))
        try:
            filename = ctx.landing.read_manifest(upload_id).filename
        except Exception:
            filename = "?"
        transient = is_transient(exc)
        then = ("a passing cause: it is retried by itself while attempts remain (its DLQ item's status says)"
                if transient else "fix the cause and re-run this partition")
        raise _fail(ctx, stage, upload_id, f"upload {upload_id} ({filename}): stage {stage} failed with "
                    f"{describe(exc)}; nothing of this stage was kept — {then}",
                    transient=transient, error=type(exc).__name__) from None


def _guard(stage_name: str):
    """Run a stage function under ``guarded`` (stage functions take (ctx, upload_id, ...))."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(ctx: Context, upload_id: str, *args, **kwargs):
            with guarded(ctx, stage_name, upload_id):
                return fn(ctx, upload_id, *args, **kwargs)
        return run
    return wrap


def upload_fingerprint(ctx: Context, conn, manifest: Manifest) -> str:
    """The digest of what this upload's result depends on (orchestration.ingest.fingerprint)."""
    sealer = ctx.sealer
    return fingerprint.upload_fingerprint(
        content_sha256=manifest.sha256, profile=manifest.source,
        codes=store.code_map(conn, profiles.PROFILES[manifest.source].provider),
        key_id=sealer.ring.active_id if sealer else None,
        index_probe=sealer.blind("email", "fingerprint-probe@equity-connect.invalid") if sealer else None,
        max_reject_rate=ctx.max_reject_rate)


def unchanged_since_merge(ctx: Context, stage_name: str, upload_id: str, manifest: Manifest,
                          event_type: str) -> StageResult | None:
    """A re-run with nothing to do: when the upload's last merge saw exactly these inputs and its
    leads are all still there, ``stage_name`` records a ``rerun_skipped`` event and returns the
    counts that stage recorded then (``unchanged_upload`` 1). None: the stage runs in full."""
    if ctx.reprocess:
        return None
    t0 = time.perf_counter()
    with ctx.connect() as conn, conn.transaction():
        fp = upload_fingerprint(ctx, conn, manifest)
        last = store.last_merge_if_unchanged(conn, upload_id, fp)
        if last is None:
            return None
        earlier = store.upload_summary(conn, upload_id).get(event_type) or {}
        counts = {k: v for k, v in earlier.items() if isinstance(v, int) and not isinstance(v, bool)}
        counts["unchanged_upload"] = 1
        seconds = time.perf_counter() - t0
        store.record_event(conn, "rerun_skipped", stage=stage_name, upload_id=upload_id, run_id=ctx.run_id,
                           duration_ms=int(seconds * 1000),
                           details={"fingerprint": fp, "merged_event_id": last[0]})
    ctx.log(f"{stage_name}: upload {upload_id} is unchanged since its merge (event {last[0]}: the same bytes, "
            "code, verification codes, keys and reject limit; its leads all there): nothing to do. "
            "Tag the run equity/reprocess=true to run it in full")
    return StageResult(counts, seconds, {"skipped": "unchanged since its last merge", "merged_event_id": last[0]})


@_guard("landed_file")
def check_landed(ctx: Context, upload_id: str) -> tuple[Manifest, StageResult]:
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
        raise _fail(ctx, "landed_file", upload_id,
                    "the landed file no longer matches the SHA-256 recorded at receipt: it was changed on "
                    "disk; ask the sender to upload it again", expected_size=manifest.size, size=size)
    seconds = time.perf_counter() - t0
    with ctx.connect() as conn, conn.transaction():
        store.record_event(conn, "raw_verified", stage="landed_file", upload_id=upload_id, run_id=ctx.run_id,
                           row_count=None, duration_ms=int(seconds * 1000),
                           details={"size": size, "source": manifest.source})
    return manifest, StageResult({"bytes": size}, seconds)


@_guard("leads_staging")
def stage(ctx: Context, upload_id: str) -> StageResult:
    """Stream the landed CSV through its column profile into leads_staging (one transaction).

    Blocks of ~4 MB are parsed in this thread while the previous block is COPYed in another, so
    memory stays flat and the parse overlaps the database's work.
    """
    t0 = time.perf_counter()
    manifest = ctx.landing.read_manifest(upload_id)
    sealer = ctx.require_sealer("leads_staging", upload_id)
    if (skipped := unchanged_since_merge(ctx, "leads_staging", upload_id, manifest, "staged")) is not None:
        return skipped

    def refused(exc: reader.FileRejected) -> StageFailed:
        return _fail(ctx, "leads_staging", upload_id, f"upload {upload_id} ({manifest.filename}) refused: {exc}",
                     filename=manifest.filename, profile=manifest.source)

    try:
        upload = reader.open_upload(ctx.landing.data_path(upload_id), manifest.source)
    except reader.FileRejected as exc:
        raise refused(exc) from None
    ctx.log(f"reading {manifest.filename} ({manifest.size / 1e6:,.1f} MB, {upload.encoding}, profile "
            f"{manifest.source}): {len(upload.mapping)} mapped columns, {len(upload.extra_columns)} kept in raw")
    columns = ["row_number", *profiles.CANONICAL_FIELDS, "raw"]
    try:
        with closing(upload), ctx.connect() as conn, conn.transaction():
            temp = store.begin_staging(conn, upload_id)
            with overlap.Background(lambda f: store.stage_rows(conn, temp, upload_id, manifest.source, f)) as out:
                for frame in upload.frames:
                    out.put(frame)
                    if upload.rows // PROGRESS_ROWS != (upload.rows - len(frame)) // PROGRESS_ROWS:
                        ctx.log(f"  parsed {upload.rows:,} rows ({time.perf_counter() - t0:.1f}s)")
            rows = store.finish_staging(conn, temp, columns)
            store.clear_dlq_for_upload(conn, "leads_staging", upload_id)
            if upload.bad_rows:
                store.record_dlq_many(conn, "leads_staging", [
                    (b["reason"], {"upload_id": upload_id, **_sealed_line(sealer, b)}) for b in upload.bad_rows])
            seconds = time.perf_counter() - t0
            counts = {"records": rows + len(upload.bad_rows), "rows": rows, "malformed_rows": len(upload.bad_rows),
                      "mapped_columns": len(upload.mapping), "extra_columns": len(upload.extra_columns)}
            store.record_event(conn, "staged", stage="leads_staging", upload_id=upload_id, run_id=ctx.run_id,
                               row_count=rows, duration_ms=int(seconds * 1000),
                               details={**counts, "encoding": upload.encoding, "profile": manifest.source,
                                        "warnings": upload.warnings,
                                        "malformed_lines": [b.get("line") for b in upload.bad_rows[:20]]})
    except reader.FileRejected as exc:
        raise refused(exc) from None
    ctx.log(f"staged {rows:,} rows in {seconds:.1f}s ({rows / max(seconds, 1e-9):,.0f} rows/s); "
            f"{len(upload.bad_rows)} malformed records set aside")
    for warning in upload.warnings:
        ctx.log(f"warning: {warning}")
    return StageResult(counts, seconds, {"encoding": upload.encoding, "mapping": upload.mapping,
                                         "extra_columns": upload.extra_columns[:50],
                                         "warnings": upload.warnings,
                                         "malformed": [{k: b[k] for k in ("line", "reason") if k in b}
                                                       for b in upload.bad_rows[:20]]})


def _sealed_line(sealer: Sealer, bad: dict) -> dict:
    """A malformed record as its DLQ item quotes it: its text sealed, with the blind indexes of the
    e-mails and phones in it (which erasure matches)."""
    text = bad.get("text")
    if not text:
        return bad
    rest = {k: v for k, v in bad.items() if k != "text"}
    return {**rest, "record": sealer.seal_record(text), "pii_index": sealer.record_indexes(text)}


STAGED_COLUMNS = ["row_number", *profiles.CANONICAL_FIELDS]
PROGRESS_ROWS = 250_000


@_guard("leads_validated")
def validate_upload(ctx: Context, upload_id: str, *, slice_rows: int | None = None) -> StageResult:
    """Normalise and validate staged rows slice by slice, dedupe within the file, write
    leads_validated — all in one transaction.

    Four things happen at once: a reader thread fetches the next staged slice, this thread
    normalises and checks the current one while a sealing worker process seals its e-mails and
    phones (uploads of at least ``Context.sealing_worker_rows`` rows; with
    ``Context.validation_workers``, worker processes do all of it for several slices side by side),
    and a writer thread loads the previous one into leads_validated. Only the key columns of each
    valid row stay in memory, for the in-file groups; publish_validated() (SQL) then collapses each
    group into one row.
    """
    t0 = time.perf_counter()
    manifest = ctx.landing.read_manifest(upload_id)
    sealer = ctx.require_sealer("leads_validated", upload_id)
    if (skipped := unchanged_since_merge(ctx, "leads_validated", upload_id, manifest, "validated")) is not None:
        return skipped
    counts: Counter = Counter()
    unknown: Counter = Counter()
    rejects: list[dict] = []
    keys: list[pd.DataFrame] = []
    worker_peaks: list[float] = []
    with ctx.connect() as conn, conn.transaction():
        codes = store.code_map(conn, profiles.PROFILES[manifest.source].provider)
        total, _, _ = store.staged_shape(conn, upload_id, ["row_number"])
        if total == 0:
            raise _fail(ctx, "leads_validated", upload_id,
                        f"nothing staged for upload {upload_id}: materialize leads_staging first")
        slice_rows = slice_rows or slice_rows_for(manifest.size, total)
        ctx.log(f"validating {total:,} staged rows in slices of {slice_rows:,}")
        store.begin_validated_work(conn, upload_id)
        workers = ctx.validation_workers if total > slice_rows else 0     # one slice: nothing to share
        if workers:
            ctx.log(f"  {workers} validation processes (normalising and sealing in parallel)")
        with ctx.connect() as source_conn, \
                sealing_for(sealer, total, 0 if workers else ctx.sealing_worker_rows) as sealing, \
                overlap.Prefetch(store.iter_staged(source_conn, upload_id, STAGED_COLUMNS, slice_rows),
                                 depth=1) as slices, \
                overlap.Background(lambda f: store.load_validated_slice(conn, upload_id, f), depth=1) as out:
            if workers:
                results = overlap.in_processes(validate_in_worker, slices, workers, initializer=init_worker,
                                               initargs=(codes, sealer))
            else:
                results = (_validate_here(s, codes, sealing) for s in slices)
            for result, slice_counts, slice_unknown, worker_rss in results:
                before = counts["rows"]
                counts.update(slice_counts)
                unknown.update(slice_unknown)
                if workers:
                    worker_peaks.append(worker_rss)
                rejects.extend(result.rejects)
                keys.append(compact_keys(result.valid))
                out.put(result.valid)
                if counts["rows"] // PROGRESS_ROWS != before // PROGRESS_ROWS:
                    ctx.log(f"  {counts['rows']:,} of {total:,} rows normalised and checked "
                            f"({time.perf_counter() - t0:.1f}s)")
        sealing_rss = sealing.peak_rss_mb
        t_groups = time.perf_counter()
        every_key = pd.concat(keys, ignore_index=True)
        keys.clear()                     # the slices' key frames go before the grouping needs memory
        groups, conflicts = group_in_file(every_key)
        del every_key
        store.copy_rows(conn, "_validated_groups", groups)
        t_publish = time.perf_counter()
        ctx.log(f"  found {len(groups):,} rows in in-file groups in {t_publish - t_groups:.1f}s; publishing")
        published = store.publish_validated(conn, upload_id)
        ctx.log(f"  published {published['rows_written']:,} validated rows in {time.perf_counter() - t_publish:.1f}s")
        counts.update({
            "in_file_duplicates": counts["valid"] - published["rows_written"],
            "unique": published["rows_written"], "in_file_conflicts": len(conflicts),
            "unknown_codes": int(sum(unknown.values())),
            "phone_verified": published["phone_verified"], "email_verified": published["email_verified"],
            "validation_workers": workers, "worker_peak_rss_mb": int(max(worker_peaks, default=0)),
            "sealing_worker_peak_rss_mb": int(sealing_rss),
        })
        fp = upload_fingerprint(ctx, conn, manifest)
        ctx.log(f"validated in {time.perf_counter() - t0:.1f}s: {counts['valid']:,} valid, "
                f"{counts['rejected']:,} rejected, {counts['in_file_duplicates']:,} in-file duplicates")
        reasons = Counter(r for rej in rejects for r in rej["reasons"])
        store.clear_dlq_for_upload(conn, "leads_validated", upload_id)
        if rejects:
            store.record_dlq_many(conn, "leads_validated", [
                ("; ".join(r["reasons"]), {"upload_id": upload_id, **r}) for r in rejects])
        seconds = time.perf_counter() - t0
        details = {**counts, "reject_reasons": dict(reasons.most_common(10)),
                   "unknown_codes": dict(unknown.most_common(10)), "in_file_conflicts": conflicts[:20],
                   "fingerprint": fp}
        store.record_event(conn, "validated", stage="leads_validated", upload_id=upload_id,
                           run_id=ctx.run_id, row_count=counts["valid"],
                           duration_ms=int(seconds * 1000), details=details)
        rate = counts["rejected"] / max(counts["rows"], 1)
        refusal = None
        if rate > ctx.max_reject_rate:
            # A refused file leaves nothing to merge: materialising `leads` on its own afterwards
            # must not take in the rows of an upload this gate refused. Rejects stay in the DLQ.
            # The stage itself succeeds (its counts are true); the blocking `reject_rate` check
            # reads this refusal and stops the run before the merge.
            top = ", ".join(f"{k} ({v:,})" for k, v in reasons.most_common(3))
            refusal = (f"{rate:.0%} of rows were rejected (limit {ctx.max_reject_rate:.0%}); top reasons: {top}. "
                       "Fix the export (or raise EC_MAX_REJECT_PERCENT) and re-run this partition")
            store.discard_validated(conn, upload_id)
            _record_refusal(conn, ctx, "leads_validated", upload_id, refusal, reject_rate=rate)
            ctx.log(f"refused: {refusal}")
    return StageResult(dict(counts), seconds, {"reject_reasons": dict(reasons.most_common(10)),
                                               "unknown_codes": dict(unknown.most_common(10)),
                                               "reject_rate": rate, "refusal": refusal})


def _validate_here(staged: pd.DataFrame, codes, sealing) -> tuple:
    """validate_slice in this process (its sealing perhaps in a sealing worker), shaped like
    validate_in_worker's answer."""
    counts: Counter = Counter()
    unknown: Counter = Counter()
    return validate_slice(staged, codes, unknown, counts, sealing=sealing), counts, unknown, 0.0


def reject_gate(refusal: str | None, summary: dict[str, dict], max_reject_rate: float) -> tuple[bool, str, float]:
    """(passed?, why, reject rate) of an upload's latest validation. ``refusal`` is the message of
    that validation when it refused the file (store.validation_refusal): the decision made then
    stands, so the check and the merge agree even if the limit changed since."""
    validated = summary.get("validated")
    if not validated:
        return False, "no 'validated' counts recorded for this upload", 0.0
    rows, rejected = int(validated.get("rows", 0)), int(validated.get("rejected", 0))
    rate = rejected / rows if rows else 0.0
    if refusal:
        return False, refusal, rate
    return True, f"{rejected:,} of {rows:,} rows rejected ({rate:.0%}; limit {max_reject_rate:.0%})", rate


@_guard("leads")
def merge(ctx: Context, upload_id: str) -> StageResult:
    """Merge the upload's validated rows into leads (one transaction, set-based SQL)."""
    t0 = time.perf_counter()
    manifest = ctx.landing.read_manifest(upload_id)
    if (skipped := unchanged_since_merge(ctx, "leads", upload_id, manifest, "merged")) is not None:
        return skipped
    with ctx.connect() as conn, conn.transaction():
        store.set_lock_timeout(conn, ctx.lock_timeout_s)   # another merge's lock: wait, but not forever
        n = store.validated_count(conn, upload_id)
        if n == 0:
            refusal = store.validation_refusal(conn, upload_id)
            if refusal:
                raise _fail(ctx, "leads", upload_id,
                            f"upload {upload_id} was refused at validation, so nothing is merged: {refusal}")
            raise _fail(ctx, "leads", upload_id,
                        f"no validated rows for upload {upload_id}: materialize leads_validated first")
        ctx.log(f"merging {n:,} validated rows into leads")
        steps: dict[str, float] = {}

        def timed(name: str, fn, *args):
            t = time.perf_counter()
            out = fn(*args)
            steps[name] = round(time.perf_counter() - t, 2)
            ctx.log(f"  {name}: {steps[name]:.1f}s")
            return out

        # A person erased on request: their rows keep the property, never the person (first of all,
        # so no later step copies their phone onto a suppression list in plain text).
        def erasures() -> int:
            try:
                found = erasure.erased_rows(conn, ctx.sealer, upload_id)
            except erasure.NoIndexKey as exc:
                raise _fail(ctx, "leads", upload_id, str(exc)) from None
            return erasure.scrub_rows(conn, ctx.landing, upload_id, found)

        erased = timed("erasures", erasures)
        added = timed("suppress_from_upload", store.suppress_from_upload, conn, upload_id)  # vendor DNC/Litigator, first
        # Hashed deletion requests: the upload's e-mails and phones that match one are suppressed
        # before the merge (none held: nothing is opened).
        def deletion_requests() -> deletion_list.Matched:
            try:
                return deletion_list.match(conn, ctx.sealer, upload_id=upload_id, source=f"upload:{upload_id}")
            except deletion_list.DeletionListError as exc:
                raise _fail(ctx, "leads", upload_id, str(exc)) from None

        deleted = timed("deletion_requests", deletion_requests)
        linked = timed("second_chance", second_chance.find, conn, upload_id)  # typos, missing ZIPs: read by the merge
        held = timed("units_held_back", store.hold_back_other_units, conn, upload_id, list(norm.UNIT_DESIGNATORS))
        counts = timed("merge", store.merge_upload, conn, upload_id, manifest.source, manifest.received())
        counts.update(linked)
        counts["units_held_back"] = held
        counts["rows"] = n
        counts["suppressions_added"] = added + deleted.suppressions_added
        counts["deletion_requests_matched"] = deleted.values_matched
        counts["erased_rows"] = erased
        counts["phones_unverified"] = timed("unverify_suppressed_phones", store.unverify_suppressed_phones, conn,
                                            upload_id)
        if ctx.keep_work_rows_hours <= 0:         # else the daily sweep removes them later
            removed, truncated = timed("release_work_rows", store.release_work_rows, conn, upload_id)
            counts["work_rows_removed"], counts["work_tables_truncated"] = removed, int(truncated)
        counts.update({f"{name}_s": seconds for name, seconds in steps.items()})
        settled = store.resolve_upload_failures(conn, upload_id)
        if settled:
            store.record_event(conn, "dlq_resolved", stage="leads", upload_id=upload_id, run_id=ctx.run_id,
                               details={"dlq_ids": settled})
        seconds = time.perf_counter() - t0
        counts["lineage_rows"] = store.lineage_rows(conn, upload_id)
        # what the merged rows were validated from: a later re-run with the same inputs skips
        fp = (store.upload_summary(conn, upload_id).get("validated") or {}).get("fingerprint")
        store.record_event(conn, "merged", stage="leads", upload_id=upload_id, run_id=ctx.run_id,
                           row_count=n, duration_ms=int(seconds * 1000),
                           details={**counts, **({"fingerprint": fp} if fp else {})})
    ctx.log(f"merged in {seconds:.1f}s: {counts['inserted']:,} new, {counts['updated']:,} merged, "
            f"{counts['unchanged']:,} unchanged, {counts['conflicts']:,} key conflicts")
    return StageResult(counts, seconds)


@dataclass
class Reconciliation:
    """Where every record of an upload's file went, from the latest counts of each stage."""

    records: int
    parts: dict[str, int]
    problems: list[str]

    @property
    def accounted(self) -> int:
        return sum(self.parts.values())

    @property
    def ok(self) -> bool:
        return not self.problems


def reconcile(summary: dict[str, dict]) -> Reconciliation:
    """records in file = inserted + merged + unchanged + not inserted + in-file duplicates +
    rejects + malformed, and each stage took exactly what the stage before it left.

    ``summary`` is the latest details of each event type of the upload (store.upload_summary).
    """
    staged, validated, merged = (summary.get(k) for k in ("staged", "validated", "merged"))
    missing = [name for name, d in (("staged", staged), ("validated", validated), ("merged", merged)) if d is None]
    if missing:
        return Reconciliation(0, {}, [f"no '{m}' counts recorded for this upload" for m in missing])
    malformed = int(staged.get("malformed_rows", 0))
    records = int(staged.get("records", int(staged["rows"]) + malformed))
    parts = {
        "inserted": int(merged["inserted"]), "merged": int(merged["updated"]),
        "unchanged": int(merged["unchanged"]), "not_inserted": int(merged.get("not_inserted", 0)),
        "in_file_duplicates": int(validated["in_file_duplicates"]), "rejected": int(validated["rejected"]),
        "malformed": malformed,
    }
    problems = []
    if int(validated["rows"]) != int(staged["rows"]):
        problems.append(f"validation read {int(validated['rows']):,} rows, staging holds {int(staged['rows']):,}: "
                        "re-run the whole upload")
    if int(merged["rows"]) != int(validated["unique"]):
        problems.append(f"the merge took {int(merged['rows']):,} rows, validation left {int(validated['unique']):,}: "
                        "re-run the whole upload")
    total = sum(parts.values())
    if total != records:
        problems.append(f"{total:,} records accounted for, the file has {records:,}")
    return Reconciliation(records, parts, problems)


def verification(summary: dict[str, dict], min_percent: int) -> tuple[bool, str, float]:
    """(enough?, why, share) of the upload's unique leads that carry a verified e-mail (the campaign's
    channel): a skip-trace that verified almost nothing is worth a look before the feed uses it."""
    validated = summary.get("validated")
    if not validated:
        return False, "no 'validated' counts recorded for this upload", 0.0
    unique, verified = int(validated.get("unique", 0)), int(validated.get("email_verified", 0))
    share = verified / unique if unique else 0.0
    why = (f"{verified:,} of {unique:,} leads have a verified e-mail ({share:.0%}; "
           f"at least {min_percent}% expected)")
    return share * 100 >= min_percent, why, share
