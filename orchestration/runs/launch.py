"""Launching a job the way the UI does, from a terminal, through public Dagster interfaces only:
the run is created by ``dagster job launch`` from the code location's remote job (so the UI lists it
and can re-execute it) and goes into the instance's **run queue**, whose tag limits in
``dagster.yaml`` (one run writing leads, one feed) decide when it starts — for runs the UI, the
sensors, the schedules and terminals asked for alike.

The queue is worked by the Dagster daemon. When none is running for this instance (a laptop with
no ``equity ui`` open, a test, CI), the launcher runs a **stand-in daemon** while it has work: a
``dagster-daemon`` over a code server of its own whose code location has no schedules and no
sensors (``EC_SCHEDULES_AND_SENSORS=off``), so it only dequeues, monitors and retries runs and
never ticks the 06:00 feed or picks up files. One stand-in per instance at a time (a lock in
``DAGSTER_HOME``); a launcher whose run waits in the queue starts one when the other stops.
Waiting has a timeout; a run that times out still queued is cancelled.

Used by ``equity ingest`` and ``equity demo``.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import dagster as dg
import yaml

from orchestration import settings
from orchestration.runs.local_runs import free_port
from orchestration.runs.processes import LOCATION, dagster_child_setup, dagster_exe, write_grpc_workspace

FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
# Runs that hold a queue slot (the queue counts runs it has let through and not seen finish).
IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
SLOT_TIMEOUT_S = 3600.0
START_TIMEOUT_S = 180.0
# The daemon writes a heartbeat every 30 s; one older than this belongs to a daemon that stopped.
HEARTBEAT_FRESH_S = 75.0
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
GRPC_INFO_TAG = "dagster/grpc_info"   # the default run launcher names the code server a run went to


def tag_limits(config_file: Path) -> list[dict]:
    """The run queue's tag concurrency limits of an instance's ``dagster.yaml``:
    ``[{"key": ..., "value": ... (optional), "limit": n}, ...]``."""
    if not config_file.exists():
        return []
    config = yaml.safe_load(config_file.read_text()) or {}
    runs = (config.get("concurrency") or {}).get("runs") or (config.get("run_queue") or {})
    return list(runs.get("tag_concurrency_limits") or [])


def busy_slots(instance: dg.DagsterInstance, tags: dict[str, str], limits: list[dict]) -> list[str]:
    """The limits a queued run with ``tags`` waits on now (``key=value: n of limit``), counted from
    the runs in progress."""
    full = []
    for limit in limits:
        key, value = limit["key"], limit.get("value")
        if key not in tags or (isinstance(value, str) and tags[key] != value):
            continue
        held = len(instance.get_run_ids(dg.RunsFilter(tags={key: tags[key]}, statuses=IN_PROGRESS)))
        if held >= int(limit["limit"]):
            full.append(f"{key}={tags[key]}: {held} of {limit['limit']}")
    return full


def _stop(proc: subprocess.Popen, timeout_s: float = 20.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class CodeServer:
    """``dagster code-server start`` for this launcher: the code location without schedules and
    sensors, on a loopback port, with a workspace file naming it. The console log of the runs it
    executes (and its own warnings) goes to this process's stderr: stdout stays the command's."""

    def __init__(self, home: Path):
        self.home = home
        self.port = free_port()
        self.workspace = home / f".launcher-workspace-{self.port}.yaml"
        self.proc: subprocess.Popen | None = None
        self._ready = threading.Event()

    def __enter__(self) -> CodeServer:
        write_grpc_workspace(self.workspace, "127.0.0.1", self.port)
        env = {**os.environ, "EC_SCHEDULES_AND_SENSORS": "off"}
        self.proc = subprocess.Popen(
            [dagster_exe("dagster"), "code-server", "start", "-m", "orchestration.definitions", "-h", "127.0.0.1",
             "-p", str(self.port), "--location-name", LOCATION],
            cwd=self.home, env=env, stdout=subprocess.PIPE, preexec_fn=dagster_child_setup)
        threading.Thread(target=self._forward, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError("the launcher's code server did not start (its log is above)")
        return self

    def _forward(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:   # the code server's log and its runs' console log
            if b"Started Dagster code server for" in line:
                self._ready.set()
            elif b"dagster.code_server - " not in line or b"INFO" not in line:
                sys.stderr.buffer.write(line)
                sys.stderr.flush()

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            _stop(self.proc)
        self.workspace.unlink(missing_ok=True)


class QueueWorker:
    """Makes sure some daemon works the run queue while this launcher has runs waiting in it: the
    instance's own daemon when its heartbeat is fresh, else a stand-in started here (one per
    instance, under a lock in ``DAGSTER_HOME``; the daemon ids of stand-ins are kept beside it so
    their last heartbeats are not mistaken for a real daemon's)."""

    def __init__(self, instance: dg.DagsterInstance, server: CodeServer):
        self.instance, self.server = instance, server
        home = Path(instance.root_directory)
        self.lock_path, self.ids_path = home / ".equity-stand-in.lock", home / ".equity-stand-in-ids"
        self.proc: subprocess.Popen | None = None
        self._lock = None
        self._started = 0.0

    def _stand_in_ids(self) -> set[str]:
        with suppress(FileNotFoundError):
            return set(self.ids_path.read_text().split())
        return set()

    def _heartbeat(self):
        return self.instance.get_daemon_heartbeats().get(QUEUE_DAEMON)

    def other_daemon_alive(self) -> bool:
        beat = self._heartbeat()
        return (beat is not None and time.time() - beat.timestamp < HEARTBEAT_FRESH_S
                and beat.daemon_id not in self._stand_in_ids())

    def ensure(self) -> str:
        """Called while a run waits in the queue; returns what works the queue (for progress)."""
        if self.proc is not None and self.proc.poll() is None:
            return "a stand-in daemon started by this command"
        if self.other_daemon_alive():
            return "the Dagster daemon"
        if self._lock is None:
            handle = open(self.lock_path, "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return "a stand-in daemon of another terminal"
            self._lock = handle
        self._started = time.time()
        self.proc = subprocess.Popen(
            [dagster_exe("dagster-daemon"), "run", "-w", str(self.server.workspace), "--log-level", "warning"],
            cwd=self.server.home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=dagster_child_setup)
        return "a stand-in daemon started by this command"

    def __enter__(self) -> QueueWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the stand-in (recording its daemon id) and release the lock; idempotent."""
        if self.proc is not None:
            beat = self._heartbeat()
            if beat is not None and beat.timestamp >= self._started - 1 and beat.daemon_id not in self._stand_in_ids():
                with open(self.ids_path, "a") as fh:
                    fh.write(beat.daemon_id + "\n")
            _stop(self.proc)
            self.proc = None
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None


def _runs_on(instance: dg.DagsterInstance, port: int) -> list[str]:
    """Runs in progress that the default run launcher sent to the code server on ``port``."""
    out = []
    for run in instance.get_runs(dg.RunsFilter(statuses=IN_PROGRESS)):
        with suppress(ValueError, TypeError):
            if json.loads(run.tags.get(GRPC_INFO_TAG, "{}")).get("port") == port:
                out.append(run.run_id)
    return out


@contextmanager
def launcher(instance: dg.DagsterInstance) -> Iterator[Callable[..., str]]:
    """Start one code server and yield ``go(job_name, partition_key=None, tags=None,
    console_level="WARNING", slot_timeout_s=3600, on_wait=None) -> run_id``, which puts a run into
    the queue and returns once the queue has let it start (``on_wait(reasons)`` is told why it
    waits; after ``slot_timeout_s`` the queued run is cancelled and ``TimeoutError`` raised).

    The run's console logger (this terminal) shows ``console_level`` and above; its event log, which
    the UI shows, keeps everything. Leaving the block stops the stand-in daemon, waits for the runs
    it started on this code server to finish, and stops the code server.
    """
    home = Path(instance.root_directory)
    limits = tag_limits(home / "dagster.yaml")
    with CodeServer(home) as server, QueueWorker(instance, server) as worker:
        def go(job_name: str, *, partition_key: str | None = None, tags: dict[str, str] | None = None,
               console_level: str = "WARNING", slot_timeout_s: float = SLOT_TIMEOUT_S,
               on_wait: Callable[[list[str]], None] | None = None) -> str:
            run_tags = dict(tags or {})
            if partition_key is not None:
                run_tags["dagster/partition"] = partition_key
            run_id = str(uuid.uuid4())
            out = subprocess.run(
                [dagster_exe("dagster"), "job", "launch", "-w", str(server.workspace), "-l", LOCATION, "-j", job_name,
                 "--run-id", run_id, "--tags", json.dumps(run_tags),
                 "--config-json", json.dumps({"loggers": {"console": {"config": {"log_level": console_level}}}})],
                cwd=home, capture_output=True, text=True, preexec_fn=dagster_child_setup)
            if out.returncode != 0 or instance.get_run_by_id(run_id) is None:
                # Dagster's own error text may quote the storage URL: its password never reaches the terminal.
                tail = settings.scrub_urls("\n".join(out.stderr.strip().splitlines()[-5:]))
                raise RuntimeError(f"{job_name}: `dagster job launch` did not create the run: {tail}")
            deadline = time.monotonic() + slot_timeout_s
            while True:
                run = instance.get_run_by_id(run_id)
                if run is None or run.status not in (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED):
                    return run_id
                who = worker.ensure()
                full = busy_slots(instance, run.tags, limits)
                if time.monotonic() > deadline:
                    instance.run_coordinator.cancel_run(run_id)
                    raise TimeoutError(f"{job_name}: the run waited in the queue for {slot_timeout_s:.0f} s "
                                       f"({'; '.join(full) or 'worked by ' + str(who)}) and was cancelled; "
                                       "see the running runs in the UI")
                if on_wait:
                    on_wait(full or [f"queued, worked by {who}"])
                time.sleep(0.5)

        try:
            yield go
        finally:
            if worker.proc is not None:
                worker.stop()
                deadline = time.monotonic() + 600
                while _runs_on(instance, server.port) and time.monotonic() < deadline:
                    time.sleep(0.5)


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
