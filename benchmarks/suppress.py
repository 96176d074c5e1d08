"""Do-Not-Call import benchmark: `equity suppress import` of a federal-registry-shaped file.

    .venv/bin/python benchmarks/suppress.py                 # 1,000,000 numbers, 200,000 leads
    .venv/bin/python benchmarks/suppress.py --numbers 5000000

Builds a fresh database on the embedded server with N leads (every tenth phone is on the list),
writes a file of `--numbers` 10-digit numbers (one per line, as the registry ships them, with a
few malformed lines), then prints
- the import's wall time through ``suppression.import_phones`` (read, normalise, COPY, one
  INSERT ... ON CONFLICT, the leads' phones unverified) and its rows per second;
- the baseline: a bare COPY of the same numbers into an unindexed table, same process and server,
  and the ratio of the two;
- a second import of the same file (every number already listed: the idempotent path).
Target: 1M numbers in under 30 s on this machine.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from orchestration.privacy import suppression  # noqa: E402
from orchestration.db import migrate, runtime  # noqa: E402


def write_file(path: Path, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(f"{rng.randrange(201, 990)}{rng.randrange(200, 1000)}{i % 10000:04d}\n")
            if i % 100_000 == 0:
                fh.write("not a number\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--numbers", type=int, default=1_000_000, help="numbers in the file")
    ap.add_argument("--leads", type=int, default=200_000, help="leads in the database")
    args = ap.parse_args()
    rt = runtime.bring_up(create=True)
    db = "ec_bench_suppress"
    runtime.drop_database(rt, db)
    with psycopg.connect(rt.warehouse_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db}")
    url = rt.url(db)
    try:
        migrate.upgrade(url)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "dnc.txt"
            write_file(path, args.numbers)
            with psycopg.connect(url) as conn:
                # leads whose phones are the file's first numbers (every tenth one listed)
                numbers = [suppression.phone_from_line(line) for line in path.read_text().splitlines()[: args.leads]]
                conn.execute("CREATE TEMP TABLE p (phone text)")
                with conn.cursor().copy("COPY p (phone) FROM STDIN") as copy:
                    for i, phone in enumerate(numbers):
                        if phone:
                            copy.write_row((phone if i % 10 == 0 else f"+1555{i:07d}",))
                conn.execute("INSERT INTO leads (phone, phone_verified, property_address, property_state, property_zip,"
                             " addr_hash) SELECT phone, true, 'X', 'CA', '90001', md5(phone) || md5(phone) FROM p")
                conn.commit()
                t = time.perf_counter()
                conn.execute("CREATE TEMP TABLE base (value text)")
                with conn.cursor().copy("COPY base (value) FROM STDIN") as copy, open(path) as fh:
                    for line in fh:
                        copy.write(line)
                conn.commit()
                baseline = time.perf_counter() - t
            with psycopg.connect(url) as conn, open(path) as fh:
                first = suppression.import_phones(conn, fh, "dnc_federal", "bench")
            with psycopg.connect(url) as conn, open(path) as fh:
                second = suppression.import_phones(conn, fh, "dnc_federal", "bench")
        print(f"file: {args.numbers:,} numbers ({first.not_numbers} malformed lines); leads: {args.leads:,}")
        print(f"import:        {first.seconds:6.1f} s  ({first.numbers / first.seconds:,.0f} numbers/s), "
              f"{first.added:,} added, {first.leads_unverified:,} leads' phones unverified")
        print(f"re-import:     {second.seconds:6.1f} s  ({second.added:,} added)")
        print(f"baseline COPY: {baseline:6.1f} s  -> import / baseline = {first.seconds / baseline:.1f}x")
        print(f"target: 1M numbers < 30 s: {'met' if first.seconds * 1_000_000 / args.numbers < 30 else 'NOT met'}")
    finally:
        runtime.drop_database(rt, db)


if __name__ == "__main__":
    main()
