"""Sealing on the machine's other core: a lean child process that turns e-mails and phones into tokens.

Validation normalises a slice's addresses, names and money in this process while the values it has
already picked out (e-mails, phones) are sealed elsewhere. Sealing is one HMAC and one AES-GCM per
distinct value, a Python loop that holds the GIL, so a thread would not run it beside the
normalising; a process does. The child imports only this package's ``pii`` module (about 35 MB and
60 ms, where a pool worker that re-imports the parent's main module, pandas and pandera costs about
180 MB and a second before its first slice), and it lives as long as one validation.

Protocol, over the child's stdin and stdout (pickle frames; both ends are this module):
the parent sends the ``Sealer`` once, then ``(channel, [value, ...])`` requests; the child answers
each, in order, with ``(True, [token, ...])`` or ``(False, message)``. The keys travel only through
that pipe: never on a command line, in the environment or in a log. End of input ends the child;
the death of the parent closes the pipe, so an abandoned child never outlives its run.

``InlineSealing`` has the same ``submit`` and seals in the caller's thread: small uploads (a process
start costs more than their sealing) and validation worker processes use it.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

from orchestration.privacy.pii import Sealer


_END = object()


class SealingError(RuntimeError):
    """The sealing worker could not seal (it stopped, or refused a request)."""


class InlineSealing:
    """Seals in the caller's thread; ``submit`` returns a future that is already done."""

    peak_rss_mb = 0.0                      # (no process of its own)

    def __init__(self, sealer: Sealer):
        self.sealer = sealer

    def submit(self, channel: str, values: Sequence[str | None]) -> Future:
        fut: Future = Future()
        fut.set_result(self.sealer.seal_many(channel, values))
        return fut

    def close(self) -> None:
        pass

    def __enter__(self) -> InlineSealing:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class SealingWorker:
    """A child process sealing ``submit``-ted lists in order; each answer resolves its future.

    A reader thread drains the child's answers as they come, so writing the next request can never
    wait on an answer nobody reads. If the child stops, every pending and later request fails with
    ``SealingError`` (its message names no value)."""

    def __init__(self, sealer: Sealer):
        self.sealer = sealer
        root = str(Path(__file__).resolve().parents[2])   # the child imports the same code as this process
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        self._proc = subprocess.Popen([sys.executable, "-m", "orchestration.privacy.seal_worker"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
        self.peak_rss_mb = 0.0             # the child's resident-memory high-water mark, read at close
        self._pending: deque[Future] = deque()
        self._lock = threading.Lock()
        self._failure: str | None = None
        # Requests go out from a thread of their own: the child reads the next request only once it
        # has sealed the last, and a caller blocked on a full pipe meanwhile would not be normalising.
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._outbox.put(sealer)
        self._sender = threading.Thread(target=self._send_all, name="sealing-worker-sender", daemon=True)
        self._reader = threading.Thread(target=self._read, name="sealing-worker-reader", daemon=True)
        self._sender.start()
        self._reader.start()

    def _send_all(self) -> None:
        stdin = self._proc.stdin
        try:
            while (item := self._outbox.get()) is not _END:
                pickle.dump(item, stdin, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass                          # the reader sees the child gone and fails what is pending
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def submit(self, channel: str, values: Sequence[str | None]) -> Future:
        fut: Future = Future()
        with self._lock:
            if self._failure:
                raise SealingError(self._failure)
            self._pending.append(fut)
        self._outbox.put((channel, list(values)))
        return fut

    def _read(self) -> None:
        out = self._proc.stdout
        while True:
            try:
                ok, payload = pickle.load(out)
            except (EOFError, OSError, pickle.UnpicklingError, ValueError):
                break
            with self._lock:
                fut = self._pending.popleft()
            if ok:
                fut.set_result(payload)
            else:
                fut.set_exception(SealingError(f"the sealing worker refused a request: {payload}"))
        code = self._proc.wait()
        with self._lock:
            self._failure = (f"the sealing worker process stopped (exit code {code}) with "
                             f"{len(self._pending)} request(s) unanswered; re-run the stage: it starts a new one")
            while self._pending:
                self._pending.popleft().set_exception(SealingError(self._failure))

    def close(self) -> None:
        """End the child once it has answered everything sent (its answers still resolve)."""
        self.peak_rss_mb = max(self.peak_rss_mb, process_peak_rss_mb(self._proc.pid))
        self._outbox.put(_END)
        self._sender.join(timeout=60)
        self._reader.join(timeout=60)
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def __enter__(self) -> SealingWorker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def process_peak_rss_mb(pid: int | str) -> float:
    """A process's resident-memory high-water mark (VmHWM) in MB; ``pid`` "self" for this one
    (0 once it is gone, or where /proc is missing)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def sealing_for(sealer: Sealer, rows: int, min_rows: int) -> InlineSealing | SealingWorker:
    """A worker for ``rows`` of at least ``min_rows`` (0: never), else sealing in this thread."""
    if min_rows and rows >= min_rows:
        return SealingWorker(sealer)
    return InlineSealing(sealer)


def main() -> int:
    """The child: read the sealer, then answer requests until the input ends."""
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr               # nothing but answers may reach the protocol stream
    try:
        sealer: Sealer = pickle.load(inp)
        while True:
            try:
                channel, values = pickle.load(inp)
            except EOFError:
                return 0
            try:
                answer = (True, sealer.seal_many(channel, values))
            except (ValueError, TypeError, AttributeError) as exc:
                answer = (False, type(exc).__name__ + (": unknown channel" if isinstance(exc, ValueError) else ""))
            pickle.dump(answer, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
    except (KeyboardInterrupt, BrokenPipeError, EOFError):
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
