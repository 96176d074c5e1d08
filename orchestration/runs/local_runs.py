"""Driving the code location inside this process, the way the daemon would: one evaluation of a
sensor against the instance (partitions registered, cursor returned), runs of a job, and the
upload endpoint on a loopback thread. The demo and the tests share these.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import dagster as dg

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class Tick:
    run_requests: list[dg.RunRequest]
    cursor: str | None
    skip_message: str | None


def tick_sensor(defs: dg.Definitions, instance: dg.DagsterInstance, name: str = "upload_sensor",
                cursor: str | None = None) -> Tick:
    """Evaluate sensor ``name`` once with ``cursor``; add the dynamic partitions it asks for, as the
    daemon does. The caller keeps the returned cursor for the next tick."""
    sensor = defs.resolve_sensor_def(name)
    resources = defs.get_repository_def().get_top_level_resources()
    with dg.build_sensor_context(instance=instance, cursor=cursor, sensor_name=name,
                                 resources={k: resources[k] for k in sensor.required_resource_keys}) as context:
        result = sensor(context)  # direct invocation: the sensor's own SensorResult, SkipReason or None
        updated = context.cursor   # a sensor may move its cursor with context.update_cursor()
    if result is None:
        return Tick([], updated, None)
    if isinstance(result, dg.SkipReason):
        return Tick([], updated, result.skip_message)
    for req in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return Tick(list(result.run_requests or []), result.cursor or updated, None)


def run_job(defs: dg.Definitions, instance: dg.DagsterInstance, name: str, partition_key: str | None = None,
            tags: dict[str, str] | None = None, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(name).execute_in_process(
        instance=instance, partition_key=partition_key, tags=tags, raise_on_error=raise_on_error,
        run_config=QUIET)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EndpointThread:
    """uvicorn serving an ASGI app in a background thread (loopback only)."""

    def __init__(self, app, port: int | None = None, **config):
        import uvicorn

        port = port or free_port()
        config.setdefault("log_level", "warning")
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **config))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 15
        while not self.server.started and time.time() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)
