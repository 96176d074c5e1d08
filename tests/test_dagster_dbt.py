"""The code location loads through Dagster's own CLI, and dbt build runs for real through it."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg

from orchestration.settings import REPO_ROOT


def test_definitions_validate_with_the_cli(stack):
    dagster = Path(sys.executable).with_name("dagster")
    out = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]


def test_dbt_build_runs_its_tests_against_the_database(db, instance, defs):
    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO leads (property_address, mak, addr_hash) VALUES ('1 A ST', 'M', %s)", ("f" * 64,))
    result = defs.resolve_job_def("contactable_refresh_job").execute_in_process(
        instance=instance, run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    assert result.success
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert len(checks) >= 5 and all(e.event_specific_data.passed for e in checks)
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.stg_leads").fetchone()[0] == 1
