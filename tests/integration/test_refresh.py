"""The contactable view's refresh: concurrent (readers not blocked), guarded by an advisory lock
(a second refresh skips with a log line), and a change to the model's SQL reaches the database."""

import os
import shutil
import subprocess
import threading
from pathlib import Path

import psycopg

from orchestration import settings
from orchestration.settings import DBT_PROJECT_DIR
from tests.support.stack import run_job
from tests.support.feeds import seed

DBT = str(settings.dbt_executable())


def dbt(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DBT, *args, "--project-dir", str(project), "--profiles-dir", str(project)],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=300)


def test_reader_is_not_blocked_by_the_refresh(db, instance, defs):
    seed(db, 50)
    assert run_job(defs, instance, "contactable_refresh_job").success   # creates the view
    reader = psycopg.connect(db)
    try:
        reader.execute("BEGIN")
        n = reader.execute("SELECT count(*) FROM analytics.mv_contactable_leads").fetchone()[0]
        assert n == 50  # the reader now holds its lock on the view until it commits
        done = {}
        t = threading.Thread(target=lambda: done.setdefault("ok", run_job(defs, instance, "contactable_refresh_job").success))
        t.start()
        t.join(timeout=180)
        assert not t.is_alive(), "the refresh waited for the reader"
        assert done["ok"]
        assert reader.execute("SELECT count(*) FROM analytics.mv_contactable_leads").fetchone()[0] == 50
    finally:
        reader.rollback()
        reader.close()


def test_second_concurrent_refresh_skips_with_a_log_line(db, instance, defs):
    seed(db, 5)
    assert run_job(defs, instance, "contactable_refresh_job").success
    with psycopg.connect(db, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtextextended('equity-connect:refresh:mv_contactable_leads', 0))")
        out = dbt(DBT_PROJECT_DIR, "run", "--select", "mv_contactable_leads")
        holder.execute("SELECT pg_advisory_unlock_all()")
    assert out.returncode == 0, out.stdout[-3000:]
    assert "holds the advisory lock; this refresh is skipped" in out.stdout


def test_model_sql_change_is_rebuilt_and_swapped_in(db, instance, tmp_path, defs):
    seed(db, 5)
    assert run_job(defs, instance, "contactable_refresh_job").success
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    model = project / "models" / "marts" / "mv_contactable_leads.sql"
    original = model.read_text()
    changed = (original
               .replace("as email_is_risky\n", "as email_is_risky,\n        'v2'::text as property_county_marker\n", 1)
               .replace("as campaign_status\nfrom leads as l", "as campaign_status,\n    l.property_county_marker\nfrom leads as l", 1))
    assert changed.count("property_county_marker") == 2, "the test's edit no longer applies to the model"
    model.write_text(changed)
    out = dbt(project, "run", "--select", "mv_contactable_leads")
    assert out.returncode == 0, out.stdout[-3000:]
    assert "changed; building the new definition beside it and swapping it in" in out.stdout
    with psycopg.connect(db) as conn:
        cols = [r[0] for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'analytics.mv_contactable_leads'::regclass "
            "AND attnum > 0")]
        assert "property_county_marker" in cols
        assert conn.execute("SELECT count(*) FROM analytics.mv_contactable_leads").fetchone()[0] == 5
        uniq = conn.execute("SELECT count(*) FROM pg_indexes WHERE schemaname = 'analytics' "
                            "AND tablename = 'mv_contactable_leads' AND indexdef LIKE 'CREATE UNIQUE%'").fetchone()[0]
        assert uniq == 1
    # And an unchanged model afterwards is a plain concurrent refresh.
    again = dbt(project, "run", "--select", "mv_contactable_leads")
    assert again.returncode == 0 and "swapping it in" not in again.stdout


def test_the_freshness_check_passes_after_a_refresh_and_warns_when_one_was_skipped(db, instance, defs):
    seed(db, 5)
    result = run_job(defs, instance, "contactable_refresh_job")
    [fresh] = [c for c in result.get_asset_check_evaluations() if c.check_name == "contactable_fresh"]
    assert fresh.passed and fresh.description.startswith("refreshed at")
    with psycopg.connect(db, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtextextended('equity-connect:refresh:mv_contactable_leads', 0))")
        try:
            skipped_run = run_job(defs, instance, "contactable_refresh_job")
        finally:
            holder.execute("SELECT pg_advisory_unlock_all()")
    assert skipped_run.success                       # a skipped refresh is not a failed run...
    [stale] = [c for c in skipped_run.get_asset_check_evaluations() if c.check_name == "contactable_fresh"]
    assert not stale.passed and stale.severity.value == "WARN" and "was skipped" in stale.description


def test_a_feed_after_the_refresh_does_not_fail_the_contactable_rules(db, instance, defs):
    """The 05:30 job's dbt test compares the view's snapshot, not live statuses: leads fed after the
    view was built (now 'active') leave assert_contactable_rules passing."""
    seed(db, 20)
    assert run_job(defs, instance, "contactable_refresh_job").success
    assert run_job(defs, instance, "campaign_feed_job", "2026-03-06").success
    with psycopg.connect(db) as conn:
        active = conn.execute("SELECT count(*) FROM leads WHERE campaign_status = 'active'").fetchone()[0]
        listed = conn.execute("SELECT count(*) FROM analytics.mv_contactable_leads").fetchone()[0]
    assert active == 20 and listed == 20                 # fed since, still in the morning's snapshot
    out = dbt(DBT_PROJECT_DIR, "test", "--select", "assert_contactable_rules")
    assert out.returncode == 0, out.stdout[-3000:]
    assert "PASS assert_contactable_rules" in out.stdout and "ERROR=0" in out.stdout
