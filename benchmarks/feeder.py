"""Feeder benchmark: pick-mark-record of a 250-lead batch, and the contactable view's refresh.

    .venv/bin/python benchmarks/feeder.py                # 1M and 5M leads
    .venv/bin/python benchmarks/feeder.py --leads 1000000

For each size: builds a fresh database with N leads (about 60 % contactable) on the embedded
server, creates mv_contactable_leads with the project's dbt model, then prints
- the median (and p90) time of feed_campaign(date, 250) — pick by score, mark 'active', record the
  batch — each run rolled back so every repetition sees the same data;
- the time of REFRESH MATERIALIZED VIEW CONCURRENTLY (what the 05:30 job runs) and of a plain REFRESH
  (the baseline, same process, same server) and their ratio;
- the EXPLAIN (ANALYZE) plan of the pick, which walks leads_feeder_email_idx (the partial index).
Targets: pick-mark-record < 50 ms at 5M leads; concurrent refresh with 1M leads < 5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from orchestration.db import migrate, runtime  # noqa: E402
from orchestration import settings  # noqa: E402
from orchestration.settings import DBT_PROJECT_DIR  # noqa: E402

PICK_SQL = """
SELECT l.id AS lead_id, c.broker_id, l.lead_score
FROM leads l
JOIN analytics.mv_contactable_leads c ON c.lead_id = l.id
WHERE l.campaign_status IN ('new', 'queued') AND l.email_verified
  AND NOT EXISTS (SELECT 1 FROM campaign_batch_leads f WHERE f.lead_id = l.id)
ORDER BY l.lead_score DESC, l.id
LIMIT 1000
"""


def build(url: str, rt: runtime.Runtime, n: int) -> None:
    t = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO brokers (company_name, nmls_number, license_states, max_leads_per_week)"
                     " SELECT 'Broker ' || b, 'B' || b, '{CA,AZ,TX,FL}', 1000000 FROM generate_series(1, 50) b")
        conn.execute(
            "INSERT INTO leads (first_name, email, email_verified, phone_verified, property_address,"
            " property_city, property_state, property_zip, age, estimated_equity, property_value,"
            " owner_occupied, lead_score, assigned_broker_id, mak, addr_hash, campaign_status, ineligible_reasons)"
            # e-mails shaped like sealed tokens (the warehouse holds no plain value; the pick groups
            # them by blind index, the token's second part), distinct per lead
            " SELECT 'Lead', 'enc1.' || md5(g::text) || '.bench.' || md5('e' || g), g %% 5 < 3, g %% 2 = 0,"
            "  g || ' MAIN ST', 'LA',"
            "  (ARRAY['CA','AZ','TX','FL'])[1 + g %% 4], lpad((g %% 99999)::text, 5, '0'), 55 + g %% 40,"
            "  (g %% 50) * 10000, 600000, true, ((g::bigint * 7919) %% 101)::int, b.id,"
            "  'MAK' || g, md5(g::text) || md5((g + 1)::text),"
            "  (CASE WHEN g %% 20 = 0 THEN 'unsubscribed' ELSE 'new' END)::campaign_status,"
            # judged as the refresh's write-back judges them (the view takes eligible leads only)
            "  CASE WHEN 55 + g %% 40 < 62 THEN '{under_62}' ELSE '{}' END::text[]"
            " FROM generate_series(1, %s) g"
            " JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM brokers) b ON b.k = g %% 50", (n,))
        conn.execute("ANALYZE leads")
    print(f"  loaded {n:,} leads in {time.perf_counter() - t:.1f}s", flush=True)
    env = {**os.environ, **rt.env()}
    dbt = str(settings.dbt_executable())
    t = time.perf_counter()
    subprocess.run([dbt, "run", "--quiet", "--select", "mv_contactable_leads", "--project-dir", str(DBT_PROJECT_DIR),
                    "--profiles-dir", str(DBT_PROJECT_DIR)], check=True, env=env)
    with psycopg.connect(url) as conn:
        conn.execute("ANALYZE analytics.mv_contactable_leads")
        rows = conn.execute("SELECT count(*) FROM analytics.mv_contactable_leads").fetchone()[0]
    print(f"  created mv_contactable_leads ({rows:,} contactable) with dbt in {time.perf_counter() - t:.1f}s")


def time_pick(url: str, reps: int) -> list[float]:
    out = []
    with psycopg.connect(url) as conn:
        conn.execute("SET ROLE pipeline_writer")
        for _ in range(reps):
            t = time.perf_counter()
            rows = conn.execute("SELECT * FROM feed_campaign(%s, 250, 'bench')", (date(2026, 3, 9),)).fetchall()
            out.append((time.perf_counter() - t) * 1000)
            assert len(rows) == 250
            conn.rollback()
    return out


def time_refresh(url: str) -> tuple[float, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        t = time.perf_counter()
        conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.mv_contactable_leads")
        concurrent = time.perf_counter() - t
        t = time.perf_counter()
        conn.execute("REFRESH MATERIALIZED VIEW analytics.mv_contactable_leads")
        plain = time.perf_counter() - t
    return concurrent, plain


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--leads", type=int, action="append", help="lead counts (default: 1M and 5M)")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    base = runtime.bring_up(create=False)
    for n in args.leads or [1_000_000, 5_000_000]:
        db = f"ec_bench_feed_{n}_{int(time.time())}"
        runtime.ensure_database(base, db)
        rt = base.with_databases(db)
        url = rt.warehouse_url
        print(f"\n== {n:,} leads ==", flush=True)
        try:
            migrate.upgrade(url)
            build(url, rt, n)
            picks = time_pick(url, args.reps)
            qs = statistics.quantiles(picks, n=10)
            print(f"  pick-mark-record 250 leads: median {statistics.median(picks):.1f} ms, p90 {qs[-1]:.1f} ms "
                  f"over {len(picks)} runs (target < 50 ms at 5M)")
            concurrent, plain = time_refresh(url)
            print(f"  refresh CONCURRENTLY: {concurrent:.2f} s   plain REFRESH (baseline): {plain:.2f} s   "
                  f"ratio {concurrent / plain:.1f}x (target concurrent < 5 s at 1M)")
            with psycopg.connect(url) as conn:
                plan = conn.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + PICK_SQL).fetchall()
            print("  EXPLAIN of the pick (candidates in score order):")
            for (line,) in plan:
                print("    " + line)
        finally:
            if not args.keep:
                runtime.drop_database(base, db)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
