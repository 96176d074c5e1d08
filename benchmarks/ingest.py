"""Ingest benchmark: generate, sign, land and ingest N rows in-process against the embedded server,
with two baselines measured in the same run on the same server.

    .venv/bin/python benchmarks/ingest.py --rows 100000 --warm-leads 10000000 --large-rows 1000000 --json out.json
    .venv/bin/python benchmarks/ingest.py --rows 200000 --no-warm

Runs, in one process and one server:
  cold     N new rows into an empty `leads`;
  re-run   the same upload again, unchanged (every stage), and forced through every stage;
  overlap  N rows of which --overlap (30 %) are properties `leads` holds: a third unchanged, a third
           with updated values, a third sold to another owner; the rest new;
  warm     N new rows into a `leads` topped up to --warm-leads rows (synthetic leads of their own keys);
  large    --large-rows new rows into an empty `leads` of a second database (0: skipped).
Goals printed beside the figures: cold <= 2.0x baseline (2) and <= 512 MB; large <= 1.5x and
<= 1 GB; warm total <= 1.3x cold total; unchanged re-run <= 25 % of the cold run.

Prints per-stage seconds and rows/s, total time and peak RSS of the ingest process (plus its
validation worker processes), and the ratios to
  (1) a plain COPY of the same file into an unindexed text table, and
  (2) a COPY of the same rows, in the shape of `leads`, into `leads` itself with its indexes, in a
      transaction rolled back (the unavoidable cost of writing indexed rows at the warehouse's size).
Cold = empty `leads`, addresses never seen; warm = the same volume of new rows into a `leads`
already holding --warm-leads rows (default 1,000,000): the cold run's unique rows, topped up with
synthetic leads of their own keys.
E-mails and phones are sealed as in production (AES-256-GCM with blind indexes) under the
environment's keys (EC_PII_KEYS_FILE, EC_INDEX_KEY_FILE) or, when they are missing, keys made for
the run. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import psycopg  # noqa: E402

from orchestration.privacy import blind_index, pii  # noqa: E402
from orchestration import constants, settings
from orchestration.db import migrate, runtime  # noqa: E402
from orchestration.ingest import pipeline, signing  # noqa: E402
from orchestration.dev import samples
from orchestration.core.landing import Landing  # noqa: E402
from orchestration.ingest.receipt import Receiver  # noqa: E402

KEY = signing.SigningKey("bench", b"benchmark-only-secret")
LEAD_COLS = ("first_name, last_name, email, phone, property_address, property_city, property_state, property_zip,"
             " property_value, estimated_equity, age, owner_occupied, email_verified, phone_verified,"
             " email_verification_codes, phone_verification_codes, melissa_payload, mak, apn, addr_hash")


def _peak_rss_mb() -> float:
    """This process image's resident-memory high-water mark (VmHWM).

    Not ru_maxrss: Linux carries ru_maxrss across exec, so a spawned child reports its parent's peak
    (here the parent holds the generated file and frame) — measured: a child of a parent that held
    1 GB reported 1,037 MB at start.
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> None:
    """Start a new high-water mark (Linux >= 4.0: writing 5 to clear_refs resets VmHWM)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _sealer(keys: tuple[str, str]) -> pii.Sealer:
    return pii.load_sealer(*keys)


def _ingest_child(url: str, landing_dir: str, upload_id: str, keys: tuple[str, str], workers: tuple[int, int]) -> dict:
    """Runs in a fresh (spawned) interpreter so its memory is the ingest's alone."""
    ctx = pipeline.Context(database_url=url, landing=Landing(landing_dir), log=lambda m: print("   ", m, flush=True),
                           max_reject_rate=1.0, sealer=_sealer(keys), validation_workers=workers[0],
                           sealing_worker_rows=workers[1])
    stages, stage_rss = {}, {}
    t0 = time.perf_counter()
    for name, fn in (("landed_file", pipeline.check_landed), ("leads_staging", pipeline.stage),
                     ("leads_validated", pipeline.validate_upload), ("leads", pipeline.merge)):
        _reset_peak_rss()
        t = time.perf_counter()
        out = fn(ctx, upload_id)
        result = out[1] if isinstance(out, tuple) else out
        stages[name] = (time.perf_counter() - t, dict(result.counts))
        # the validation workers' peaks add to this process's (conservatively: as if they coincided)
        # (and the sealing worker's)
        helpers = (result.counts.get("validation_workers", 0) * result.counts.get("worker_peak_rss_mb", 0)
                   + result.counts.get("sealing_worker_peak_rss_mb", 0))
        stage_rss[name] = _peak_rss_mb() + helpers
    total = time.perf_counter() - t0
    return {"stages": stages, "total": total, "stage_rss_mb": stage_rss,
            "peak_rss_mb": max(stage_rss.values())}


def _rerun_child(url: str, landing_dir: str, upload_id: str, keys: tuple[str, str], reprocess: bool) -> dict:
    """Every stage of an upload already merged, again (skipping what is unchanged unless ``reprocess``)."""
    ctx = pipeline.Context(database_url=url, landing=Landing(landing_dir), log=lambda m: None, max_reject_rate=1.0,
                           sealer=_sealer(keys), reprocess=reprocess)
    t0 = time.perf_counter()
    stages = {}
    for name, fn in (("landed_file", pipeline.check_landed), ("leads_staging", pipeline.stage),
                     ("leads_validated", pipeline.validate_upload), ("leads", pipeline.merge)):
        t = time.perf_counter()
        out = fn(ctx, upload_id)
        result = out[1] if isinstance(out, tuple) else out
        stages[name] = (time.perf_counter() - t, dict(result.counts))
    return {"total": time.perf_counter() - t0, "stages": stages, "peak_rss_mb": _peak_rss_mb()}


def _child(target, args, queue) -> None:
    """Run ``target(*args)`` in the child and hand back ("ok", result) or ("error", traceback)."""
    import traceback

    try:
        queue.put(("ok", target(*args)))
    except BaseException:
        queue.put(("error", traceback.format_exc()))
        raise


def in_child(target, *args):
    """``target(*args)`` in a fresh (spawned) process, so its peak RSS is its own. A child that
    raises fails the benchmark with its traceback; one that dies without a word (killed, out of
    memory) fails it at once with its exit code instead of leaving the benchmark waiting."""
    import queue as queue_module

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(target, args, q))
    p.start()
    while True:
        try:
            status, value = q.get(timeout=1.0)
            break
        except queue_module.Empty:
            if not p.is_alive():
                raise RuntimeError(f"the benchmark's child process died (exit code {p.exitcode}) "
                                   "without a result") from None
    p.join()
    if status == "error":
        raise RuntimeError("the benchmark's child process failed:\n" + value)
    return value


def rerun(url: str, landing: Landing, upload_id: str, keys: tuple[str, str], reprocess: bool) -> dict:
    checkpoint(url)
    return in_child(_rerun_child, url, str(landing.root), upload_id, keys, reprocess)


def key_files(tmp: Path) -> tuple[str, str]:
    """The environment's PII key files, or keys made for this run when they are missing."""
    ring, index = settings.pii_keys_file(), settings.index_key_file()
    if ring.exists() and index.exists():
        return str(ring), str(index)
    ring, index = tmp / "pii_keys", tmp / "index_key"
    ring.write_text(pii.new_key_line("bench"))
    index.write_text(blind_index.new_key_text())
    return str(ring), str(index)


def checkpoint(url: str) -> None:
    """Start each timed section from a clean checkpoint, so no section pays for another's WAL."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def run_ingest(url: str, landing: Landing, csv_path: Path, keys: tuple[str, str], workers: tuple[int, int]) -> dict:
    receiver = Receiver(landing, [KEY], url, max_bytes=1 << 34)
    body_headers = signing.sign(csv_path.read_bytes(), source="batchdata", key=KEY)
    outcome = receiver.receive_file(csv_path, body_headers, received_at=datetime.now(UTC), door="benchmark")
    assert outcome.accepted, outcome
    checkpoint(url)
    res = in_child(_ingest_child, url, str(landing.root), outcome.upload_id, keys, workers)
    res["upload_id"] = outcome.upload_id
    return res


def _timed_copy(url: str, conn: psycopg.Connection, statement: str, path: Path) -> float:
    """Seconds to COPY a file in and commit, from a clean checkpoint."""
    checkpoint(url)
    t = time.perf_counter()
    with conn.cursor() as cur, cur.copy(statement) as cp, path.open("rb") as fh:
        while block := fh.read(1 << 22):
            cp.write(block)
    conn.commit()
    return time.perf_counter() - t


def baseline_plain_copy(url: str, csv_path: Path) -> float:
    with psycopg.connect(url) as conn:
        header = csv_path.open().readline().strip().split(",")
        cols = ", ".join(f'"{c}" text' for c in header)
        conn.execute(f"DROP TABLE IF EXISTS bench_plain; CREATE UNLOGGED TABLE bench_plain ({cols})")
        conn.commit()
        took = _timed_copy(url, conn, "COPY bench_plain FROM STDIN WITH (FORMAT csv, HEADER)", csv_path)
        conn.execute("DROP TABLE bench_plain")
        conn.commit()
    return took


SHAPED_COLS = LEAD_COLS.replace("mak, apn, addr_hash", "'B' || mak, 'B' || apn, 'b' || addr_hash")


def baseline_indexed_copy(url: str, upload_id: str, prefill_rows: int, tmp: Path) -> tuple[float, int]:
    """COPY the upload's rows in leads' shape (its leads, as merged: the merge removed its work
    rows) into ``leads`` itself, as the merge left it, in a transaction that is rolled back: the
    cost of writing these rows through leads' own indexes at its present size. Their dedupe keys
    get a prefix, so they collide with nothing. (``prefill_rows`` is only reported: copying a
    warehouse of ten million leads into a scratch table would take longer than the benchmark.)"""
    shaped = tmp / "leads_shaped.csv"
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur, cur.copy(
                f"COPY (SELECT {SHAPED_COLS} FROM leads WHERE id IN (SELECT lead_id FROM lead_sources"
                f" WHERE upload_id = '{upload_id}')) TO STDOUT WITH (FORMAT csv)") as cp, shaped.open("wb") as fh:
            for block in cp:
                fh.write(block)
        conn.commit()
        rows = sum(1 for _ in shaped.open("rb"))
        checkpoint(url)
        t = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY leads ({LEAD_COLS}) FROM STDIN WITH (FORMAT csv)") as cp, \
                shaped.open("rb") as fh:
            while block := fh.read(1 << 22):
                cp.write(block)
        conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
        took = time.perf_counter() - t
        conn.rollback()
    shaped.unlink()
    return took, rows


def top_up_leads(url: str, target: int) -> int:
    """Fill leads up to ``target`` rows with synthetic leads (keys of their own) for the warm run."""
    with psycopg.connect(url) as conn:
        have = conn.execute("SELECT count(*) FROM leads").fetchone()[0]
        if have < target:
            conn.execute(
                "INSERT INTO leads (first_name, last_name, property_address, property_city, property_state,"
                " property_zip, mak, addr_hash, email, email_verified, melissa_payload)"
                " SELECT 'Topup', 'Lead' || i, i || ' Filler Rd', 'Fresno', 'CA', '93650', 'TOPUP' || i,"
                " sha256_hex('topup' || i),"   # a sealed e-mail's shape and size (never opened)
                " 'enc1.' || md5('topup' || i) || '.topup.' || encode(sha256(convert_to('topup' || i, 'UTF8')), 'base64'),"
                " i %% 2 = 0, '{}'"
                " FROM generate_series(1, %s) AS i", (target - have,))
            conn.execute("ANALYZE leads")
            conn.commit()
        return max(have, target)


def overlap_frame(cold: pd.DataFrame, rows: int, share: float, seed: int) -> tuple[pd.DataFrame, dict]:
    """``rows`` rows, ``share`` of them properties of the cold file: a third as they were, a third
    with new values (value, equity, a phone's status, an e-mail), a third sold (another owner's
    names and contacts); the rest new properties."""
    rng = np.random.default_rng(seed)
    n_old = int(rows * share)
    old = cold.iloc[rng.choice(len(cold), n_old, replace=False)].reset_index(drop=True).copy()
    kind = np.arange(n_old) % 3
    upd = kind == 1
    old.loc[upd, "estimated_value"] = [f"${v:,}" for v in rng.integers(150, 1500, int(upd.sum())) * 1000]
    old.loc[upd, "estimated_equity"] = [f"${v:,}" for v in rng.integers(20, 900, int(upd.sum())) * 1000]
    old.loc[upd, "phone_1_status"] = "connected"
    old.loc[upd, "email_1"] = [f"updated{i}@example.org" for i in range(int(upd.sum()))]
    sold = kind == 2
    old.loc[sold, "owner_first_name"] = "Newowner"
    old.loc[sold, "owner_last_name"] = [f"Zbuyer{chr(65 + i % 26)}{chr(65 + i // 26 % 26)}" for i in range(int(sold.sum()))]
    old.loc[sold, "email_1"] = [f"buyer{i}@example.net" for i in range(int(sold.sum()))]
    old.loc[sold, "phone_1"] = ""
    new = samples.generate(rows - n_old, seed=seed, start=20_000_000)
    frame = pd.concat([old, new], ignore_index=True).iloc[rng.permutation(rows)].reset_index(drop=True)
    return frame, {"unchanged": int((kind == 0).sum()), "updated": int(upd.sum()), "sold": int(sold.sum()),
                   "new": rows - n_old}


def report(label: str, res: dict, plain: float, indexed: float, indexed_rows: int, rows: int) -> None:
    print(f"\n== {label}: {rows:,} rows ==")
    for name, (secs, counts) in res["stages"].items():
        print(f"  {name:<16} {secs:7.2f} s  {rows / secs:>12,.0f} rows/s  peak RSS "
              f"{res['stage_rss_mb'].get(name, 0):>6,.0f} MB   {counts}")
    total = res["total"]
    print(f"  {'total':<16} {total:7.2f} s  {rows / total:>12,.0f} rows/s")
    print(f"  peak RSS of the ingest process and its validation and sealing workers: {res['peak_rss_mb']:,.0f} MB")
    print(f"  baseline (1) plain COPY, unindexed:            {plain:6.2f} s   ratio {total / plain:5.1f}x")
    print(f"  baseline (2) COPY {indexed_rows:,} leads-shaped rows into indexed leads copy: "
          f"{indexed:6.2f} s   ratio {total / indexed:5.2f}x", flush=True)


def measure(label: str, url: str, landing: Landing, tmp: Path, keys, workers, frame: pd.DataFrame,
            figures: dict, **extra) -> dict:
    """Land ``frame`` as a signed upload, ingest it, measure both baselines; figures[label] = the run."""
    csv_path = tmp / f"{label}.csv"
    csv_path.write_bytes(samples.to_csv_bytes(frame))
    with psycopg.connect(url) as conn:
        leads_before = conn.execute("SELECT count(*) FROM leads").fetchone()[0]
    plain = baseline_plain_copy(url, csv_path)
    res = run_ingest(url, landing, csv_path, keys, workers)
    indexed, indexed_rows = baseline_indexed_copy(url, res["upload_id"], leads_before, tmp)
    report(f"{label} (leads held {leads_before:,} rows)", res, plain, indexed, indexed_rows, len(frame))
    figures[label] = {"rows": len(frame), "leads_held": leads_before, "total_s": round(res["total"], 3),
                      "baseline_plain_copy_s": round(plain, 3), "baseline_indexed_copy_s": round(indexed, 3),
                      "baseline_indexed_rows": indexed_rows, "ratio_to_baseline_2": round(res["total"] / indexed, 3),
                      "peak_rss_mb": round(res["peak_rss_mb"]),
                      "stages": {k: {"seconds": round(v[0], 3), "peak_rss_mb": round(res["stage_rss_mb"][k]),
                                     "counts": v[1]} for k, v in res["stages"].items()}, **extra}
    csv_path.unlink()
    return res


def hardware() -> dict:
    import os
    import platform

    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor())
    mem = next((int(line.split()[1]) // 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    return {"cpu": model, "cores": os.cpu_count(), "memory_mb": mem, "python": platform.python_version()}


def goals(f: dict) -> list[tuple[str, float, float, bool]]:
    """(goal, measured, limit, met?) for the figures measured in this run."""
    out = []
    if "cold" in f:
        out += [("cold: total / baseline (2)", f["cold"]["ratio_to_baseline_2"], 2.0),
                ("cold: peak RSS MB", f["cold"]["peak_rss_mb"], 512)]
    if "large" in f:
        out += [("large: total / baseline (2)", f["large"]["ratio_to_baseline_2"], 1.5),
                ("large: peak RSS MB", f["large"]["peak_rss_mb"], 1024)]
    if "warm" in f and "cold" in f:
        out.append(("warm total / cold total", round(f["warm"]["total_s"] / f["cold"]["total_s"], 3), 1.3))
    if "rerun_unchanged" in f and "cold" in f:
        out.append(("unchanged re-run / cold total", round(f["rerun_unchanged"]["total_s"] / f["cold"]["total_s"], 3),
                    0.25))
    return [(name, value, limit, value <= limit) for name, value, limit in out]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000, help="rows of the cold, overlap and warm files")
    ap.add_argument("--no-warm", action="store_true", help="skip the warm run")
    ap.add_argument("--warm-leads", type=int, default=1_000_000,
                    help="rows leads holds before the warm run (topped up with synthetic leads)")
    ap.add_argument("--overlap", type=float, default=0.3, help="share of the overlap file's rows that match leads "
                                                               "(0: no overlap run)")
    ap.add_argument("--large-rows", type=int, default=0, help="rows of a cold run into a second, empty database")
    ap.add_argument("--json", type=Path, help="also write every figure to this file")
    ap.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    ap.add_argument("--validation-workers", type=int, default=int(settings.value("EC_VALIDATION_WORKERS") or 0),
                    help="worker processes validating slices side by side (default: EC_VALIDATION_WORKERS, "
                         "else 0: the run's own process)")
    ap.add_argument("--sealing-worker-rows", type=int, default=constants.SEALING_WORKER_ROWS,
                    help="uploads of at least this many rows seal e-mails and phones in a sealing worker process "
                         f"(default {constants.SEALING_WORKER_ROWS:,}; 0: never, to compare)")
    args = ap.parse_args()
    workers = (args.validation_workers, args.sealing_worker_rows)

    base = runtime.bring_up(create=False)
    stamp = int(time.time())
    dbs = [f"ec_bench_{stamp}"] + ([f"ec_bench_{stamp}_large"] if args.large_rows else [])
    tmp = Path(tempfile.mkdtemp(prefix="ec-bench-"))
    landing = Landing(tmp / "landing").ensure()
    keys = key_files(tmp)
    figures: dict = {"hardware": hardware(), "args": {k: str(v) for k, v in vars(args).items()}}
    print(f"hardware: {figures['hardware']}", flush=True)
    try:
        for db in dbs:
            runtime.ensure_database(base, db)
            migrate.upgrade(base.url(db))
        url = base.url(dbs[0])
        cold_frame = samples.generate(args.rows, seed=4, start=0)
        cold = measure("cold", url, landing, tmp, keys, workers, cold_frame, figures)
        for label, reprocess in (("rerun_unchanged", False), ("rerun_forced", True)):
            r = rerun(url, landing, cold["upload_id"], keys, reprocess)
            figures[label] = {"total_s": round(r["total"], 3), "ratio_to_cold": round(r["total"] / cold["total"], 3),
                              "peak_rss_mb": round(r["peak_rss_mb"]),
                              "stages": {k: {"seconds": round(v[0], 3), "counts": v[1]} for k, v in r["stages"].items()}}
            print(f"\n== re-run of the cold upload, {'forced through every stage' if reprocess else 'unchanged'} ==\n"
                  f"  total {r['total']:.2f} s = {r['total'] / cold['total']:.1%} of the cold run; "
                  + "; ".join(f"{k} {v[0]:.2f} s" for k, v in r["stages"].items())
                  + f"\n  leads: {r['stages']['leads'][1]}", flush=True)
        if args.overlap > 0:
            frame, mix = overlap_frame(cold_frame, args.rows, args.overlap, seed=11)
            measure("overlap", url, landing, tmp, keys, workers, frame, figures, mix=mix)
        del cold_frame
        if not args.no_warm:
            t = time.perf_counter()
            top_up_leads(url, args.warm_leads)
            print(f"\ntopped leads up to {args.warm_leads:,} rows in {time.perf_counter() - t:.0f} s", flush=True)
            measure("warm", url, landing, tmp, keys, workers,
                    samples.generate(args.rows, seed=5, start=30_000_000), figures)
        if args.large_rows:
            measure("large", base.url(dbs[1]), landing, tmp, keys, workers,
                    samples.generate(args.large_rows, seed=4, start=0), figures)
    finally:
        if not args.keep:
            for db in dbs:
                runtime.drop_database(base, db)
    print("\n== goals ==")
    figures["goals"] = []
    for name, value, limit, met in goals(figures):
        print(f"  {name:<34} {value:>10,.3f}   goal <= {limit:<8,}   {'met' if met else 'NOT met'}")
        figures["goals"].append({"goal": name, "measured": value, "limit": limit, "met": met})
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
