"""Catalog commits of tracked cells, off the cell's critical path.

A notebook user waits for the cell, not for the catalog: a finished cell's
run (already serialized, objects already in the store) is committed by one
background thread, in order. Readers (``%nbops runs``, ``diff``, ``checkout``)
call :meth:`Committer.flush` first, and the process flushes at exit. A commit
that fails is reported as a warning with the next summary (nothing is lost
silently), and the session forgets the lineage that pointed at it.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from nbops.catalog.records import RunStatus
from nbops.tracking.run import Run


@dataclass(frozen=True)
class Failure:
    run_id: str
    reason: str


class Committer:
    """One daemon thread that saves queued runs; ``background=False`` saves inline."""

    def __init__(self, background: bool = True) -> None:
        self.background = background
        self._queue: queue.Queue[tuple[Run, RunStatus, str | None] | None] = queue.Queue()
        self._failures: list[Failure] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_commit_s = 0.0

    def submit(self, run: Run, status: RunStatus, error: str | None) -> None:
        if not self.background:
            self._save(run, status, error)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="nbops-committer", daemon=True)
            self._thread.start()
            atexit.register(self.flush)
        self._queue.put((run, status, error))

    def _save(self, run: Run, status: RunStatus, error: str | None) -> None:
        t0 = time.perf_counter()
        try:
            run.finish(status, error)
        except Exception as exc:
            with self._lock:
                self._failures.append(Failure(run.run_id, f"{type(exc).__name__}: {exc}"))
        finally:
            self.last_commit_s = time.perf_counter() - t0

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is not None:
                    self._save(*item)
            finally:
                self._queue.task_done()

    def flush(self, timeout: float = 120.0) -> None:
        """Wait until every queued run is saved (or failed)."""
        if self._thread is None or threading.current_thread() is self._thread:
            return
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)

    def take_failures(self) -> list[Failure]:
        with self._lock:
            out, self._failures = self._failures, []
        return out

    def drain(self, on_failure: Callable[[Failure], None]) -> None:
        for f in self.take_failures():
            on_failure(f)
