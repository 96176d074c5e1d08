"""Overlapping I/O with computation: a bounded prefetching reader, a bounded background writer, and
an ordered map over worker processes.

The ingest stages read slices from PostgreSQL, normalise them in Python and write them back. Reads
and writes spend their time in libpq, pyarrow and the server (the GIL is released), so running them
in one thread each while the main thread normalises puts the machine's second core to work without
a second process. Queues are bounded (``depth`` items), which bounds memory: at most ``depth`` slices
wait on either side. Errors on either side are re-raised in the main thread; leaving the ``with``
block early (an exception in the main thread) stops the helper thread before returning.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


class Prefetch(Generic[T]):
    """Iterate ``source`` in a worker thread, ``depth`` items ahead of the consumer."""

    def __init__(self, source: Iterable[T], depth: int = 2):
        self._source = source
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prefetch", daemon=True)

    def _offer(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        iterator = iter(self._source)
        try:
            for item in iterator:
                if not self._offer(item):
                    break
            else:
                self._offer(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._offer(_Failure(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> Iterator[T]:
        self._thread.start()
        return self._iterate()

    def _iterate(self) -> Iterator[T]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()


class Background(Generic[T]):
    """Call ``consume(item)`` in a worker thread for each ``put`` item, at most ``depth`` waiting.

    ``close()`` (or leaving the ``with`` block normally) waits for the queue to drain and re-raises
    the first error of ``consume``; a later ``put`` after an error re-raises it at once.
    """

    def __init__(self, consume: Callable[[T], object], depth: int = 2):
        self._consume = consume
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._abandon = threading.Event()
        self._thread = threading.Thread(target=self._run, name="background-writer", daemon=True)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if self._error is not None or self._abandon.is_set():
                continue  # drain without work once failed or abandoned
            try:
                self._consume(item)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                self._error = exc

    def put(self, item: T) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def close(self) -> None:
        self._queue.put(_DONE)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> Background[T]:
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            return
        self._abandon.set()
        self._queue.put(_DONE)
        self._thread.join()


def in_processes(fn: Callable, source: Iterable, workers: int, *, initializer: Callable | None = None,
                 initargs: tuple = ()) -> Iterator:
    """``fn(item)`` for each item of ``source``, computed in ``workers`` spawned processes and
    yielded in the source's order. At most ``workers + 1`` items are in flight, which bounds
    memory. ``fn`` and ``initializer`` are module-level functions (spawn imports them afresh);
    ``initargs`` are sent once per process. An error in a worker is raised here; leaving early
    cancels what has not started."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer, initargs=initargs)
    pending: deque = deque()
    try:
        for item in source:
            pending.append(pool.submit(fn, item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
