"""The Dagster code location (``workspace.yaml`` and ``dg`` load it): every definition under
``orchestration/defs/``, collected by ``load_from_defs_folder``. Loading connects to nothing and
parses nothing; settings are bound through ``EnvVar`` and read when runs start."""

from pathlib import Path

import dagster as dg

from orchestration import settings


def load() -> dg.Definitions:
    """The definitions, as a plain object (tests, the demo and benchmarks use this)."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


@dg.definitions
def defs() -> dg.Definitions:
    full = load()
    return without_automation(full) if settings.value("EC_SCHEDULES_AND_SENSORS") == "off" else full


def without_automation(full: dg.Definitions) -> dg.Definitions:
    """The same assets, checks, jobs and resources, but no schedules and no sensors: what the
    terminal launcher's stand-in daemon loads, so that it only works the run queue (a daemon
    started for one ``equity ingest`` must not tick the 06:00 feed or pick up files)."""
    repo = full.get_repository_def()
    jobs = [job for job in repo.get_all_jobs() if not job.name.startswith("__")]
    return dg.Definitions(assets=full.assets, asset_checks=full.asset_checks, jobs=jobs,
                          resources=full.resources, executor=full.executor, loggers=full.loggers,
                          metadata=full.metadata)
