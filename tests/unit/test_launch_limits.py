"""The terminal launcher reads the run queue's tag limits from the instance's dagster.yaml (the same
limits the daemon's queue applies), so `equity ingest` and the demo respect them too."""

from orchestration.runs.launch import tag_limits
from orchestration.settings import REPO_ROOT


def test_the_project_limits_are_read_from_dagster_yaml():
    limits = tag_limits(REPO_ROOT / "dagster.yaml")
    assert {"key": "equity/writes", "value": "leads", "limit": 1} in limits
    assert {"key": "equity/feed", "limit": 1} in limits


def test_an_instance_without_limits_has_none(tmp_path):
    assert tag_limits(tmp_path / "dagster.yaml") == []
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert tag_limits(tmp_path / "dagster.yaml") == []


def test_the_older_run_queue_section_is_read_too(tmp_path):
    (tmp_path / "dagster.yaml").write_text("run_queue:\n  tag_concurrency_limits:\n    - key: k\n      limit: 2\n")
    assert tag_limits(tmp_path / "dagster.yaml") == [{"key": "k", "limit": 2}]
