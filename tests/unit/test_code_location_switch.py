"""The code location a terminal's stand-in daemon loads (``EC_SCHEDULES_AND_SENSORS=off``) has every
job, asset and check of the full one and not one schedule or sensor, so that daemon only works the
run queue; with the switch unset the location is whole."""

from orchestration import definitions


def _loaded(monkeypatch, value: str | None):
    if value is None:
        monkeypatch.delenv("EC_SCHEDULES_AND_SENSORS", raising=False)
    else:
        monkeypatch.setenv("EC_SCHEDULES_AND_SENSORS", value)
    return definitions.defs.load_fn().get_repository_def()


def test_off_keeps_the_work_and_drops_the_automation(monkeypatch):
    full, queue_only = _loaded(monkeypatch, None), _loaded(monkeypatch, "off")
    assert full.schedule_defs and full.sensor_defs                    # the switch has something to drop
    assert queue_only.schedule_defs == [] and queue_only.sensor_defs == []
    assert sorted(j.name for j in queue_only.get_all_jobs()) == sorted(j.name for j in full.get_all_jobs())
    assert set(queue_only.assets_defs_by_key) == set(full.assets_defs_by_key)
    assert set(queue_only.asset_checks_defs_by_key) == set(full.asset_checks_defs_by_key)
    assert set(queue_only.get_top_level_resources()) == set(full.get_top_level_resources())


def test_any_other_value_is_the_whole_location(monkeypatch):
    assert _loaded(monkeypatch, "on").schedule_defs
    assert _loaded(monkeypatch, "").sensor_defs
