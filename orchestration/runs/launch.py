"""Launching a job the way the UI does, from a terminal: the run is created from the code
location's remote job (so the UI lists it and can re-execute it) and started by the instance's run
launcher in its own process, which loads the code as the webserver does.

Used by ``equity ingest`` and ``equity demo``. Runs are launched directly rather than queued: an
operator who asks for one upload now should not wait on a daemon that may not be running. The run
queue's tag limits in ``dagster.yaml`` (one run writing leads, one feed) hold all the same: before a
run is created, the launcher waits, under a lock on a file in ``DAGSTER_HOME`` that every launcher
of this instance takes, until no other run holds the slots its tags ask for — runs the daemon
started, the UI launched or another terminal launched alike. A wait has a timeout.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import yaml

from orchestration import settings

LOCATION = "equity-connect"
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
# Runs that hold a queue slot (dagster.yaml's tag limits count these).
HOLDING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
           dg.DagsterRunStatus.CANCELING]
SLOT_TIMEOUT_S = 3600.0


def tag_limits(config_file: Path) -> list[dict]:
    """The run queue's tag concurrency limits of an instance's ``dagster.yaml``:
    ``[{"key": ..., "value": ... (optional), "limit": n}, ...]``."""
    if not config_file.exists():
        return []
    config = yaml.safe_load(config_file.read_text()) or {}
    runs = (config.get("concurrency") or {}).get("runs") or (config.get("run_queue") or {})
    return list(runs.get("tag_concurrency_limits") or [])


def busy_slots(instance: dg.DagsterInstance, tags: dict[str, str], limits: list[dict]) -> list[str]:
    """The limits the run with ``tags`` would exceed now (``key=value: n of limit``), from the runs
    that hold a slot."""
    full = []
    for limit in limits:
        key, value = limit["key"], limit.get("value")
        if key not in tags or (isinstance(value, str) and tags[key] != value):
            continue
        held = len(instance.get_run_ids(dg.RunsFilter(tags={key: tags[key]}, statuses=HOLDING)))
        if held >= int(limit["limit"]):
            full.append(f"{key}={tags[key]}: {held} of {limit['limit']}")
    return full


@contextmanager
def _launch_lock(instance: dg.DagsterInstance) -> Iterator[None]:
    """One launcher of this instance at a time between checking the slots and starting the run."""
    path = Path(instance.root_directory) / ".equity-launch.lock"
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def launcher(instance: dg.DagsterInstance) -> Iterator[Callable[..., str]]:
    """Open the workspace once (one code server) and yield ``go(job_name, partition_key=None,
    tags=None, console_level="WARNING", slot_timeout_s=3600, on_wait=None) -> run_id``, which waits
    for the queue slots the run's tags need (``on_wait(reasons)`` is told while it waits;
    ``TimeoutError`` after ``slot_timeout_s``), then creates and launches the run.

    The run's console logger (the terminal that launched it) shows ``console_level`` and above;
    its event log, which the UI shows, keeps everything. Leaving the block shuts the code server
    down once the runs it started have finished executing.
    """
    # The code server and run workers started from here write compute logs and run files: private
    # to this user, like the Dagster processes `equity` starts (the database is already up).
    os.umask(0o077)
    from dagster._cli.job import _create_run
    from dagster._cli.workspace.cli_target import get_workspace_from_cli_opts
    from dagster_shared.cli import WorkspaceOpts

    opts = WorkspaceOpts(workspace=[str(settings.REPO_ROOT / "workspace.yaml")])
    with get_workspace_from_cli_opts(instance, version=dg.__version__, workspace_opts=opts) as workspace:
        location = workspace.get_code_location(LOCATION)
        repo = next(iter(location.get_repositories().values()))

        limits = tag_limits(Path(instance.root_directory) / "dagster.yaml")

        def go(job_name: str, *, partition_key: str | None = None, tags: dict[str, str] | None = None,
               console_level: str = "WARNING", slot_timeout_s: float = SLOT_TIMEOUT_S,
               on_wait: Callable[[list[str]], None] | None = None) -> str:
            run_tags = dict(tags or {})
            if partition_key is not None:
                run_tags["dagster/partition"] = partition_key
            remote_job = repo.get_full_job(job_name)
            deadline = time.monotonic() + slot_timeout_s
            while True:
                with _launch_lock(instance):
                    full = busy_slots(instance, {**remote_job.tags, **remote_job.run_tags, **run_tags}, limits)
                    if not full:
                        run = _create_run(instance=instance, code_location=location, remote_repo=repo,
                                          remote_job=remote_job,
                                          run_config={"loggers": {"console": {"config": {"log_level": console_level}}}},
                                          tags=run_tags, op_selection=None, run_id=None)
                        instance.launch_run(run.run_id, workspace)
                        return run.run_id
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{job_name}: the run queue stayed full for {slot_timeout_s:.0f} s "
                                       f"({'; '.join(full)}); see the running runs in the UI")
                if on_wait:
                    on_wait(full)
                time.sleep(1.0)

        yield go


def launch(instance: dg.DagsterInstance, job_name: str, **kwargs) -> str:
    """Create and launch one run of ``job_name`` from the workspace; returns its run id."""
    with launcher(instance) as go:
        return go(job_name, **kwargs)


def wait(instance: dg.DagsterInstance, run_id: str, *, poll_s: float = 0.5, timeout_s: float | None = None,
         on_poll: Callable[[dg.DagsterRun], None] | None = None) -> dg.DagsterRun:
    """Block until the run has finished; returns it. ``TimeoutError`` after ``timeout_s`` (the run
    goes on; the UI shows it)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status in FINISHED:
            return run
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} had not finished after {timeout_s:.0f} s; it goes on (see the UI)")
        if on_poll and run is not None:
            on_poll(run)
        time.sleep(poll_s)


def latest_message(instance: dg.DagsterInstance, run_id: str) -> str:
    """The run's newest log line (progress for a terminal)."""
    records = instance.get_records_for_run(run_id, limit=1, ascending=False).records
    lines = records[0].event_log_entry.user_message.splitlines() if records else []
    return lines[0][:100] if lines else ""


def failure_message(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The pipeline's one-line reason a run failed: a failed blocking check's description, else
    the first step failure's message."""
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            return f"check {evaluation.check_name} failed: {evaluation.description}"
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records:
        error = record.event_log_entry.dagster_event.step_failure_data.error
        while error is not None and error.cause is not None and error.cls_name != "StageFailed":
            error = error.cause
        if error is not None:
            head, sep, rest = error.message.strip().partition(": ")
            return rest if sep and head.endswith(error.cls_name or "") else error.message.strip()
    return None


def materialization_metadata(instance: dg.DagsterInstance, run_id: str, asset: str) -> dict[str, object]:
    """The metadata values of the run's (last) materialisation of ``asset``."""
    out: dict[str, object] = {}
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records:
        mat = record.event_log_entry.asset_materialization
        if mat is not None and mat.asset_key == dg.AssetKey(asset):
            out = {k: v.value for k, v in mat.metadata.items()}
    return out
