"""Every answered request into the monitoring log, without making the request wait.

A request appends one tuple to a deque (no I/O, no Arrow); a background thread drains
it every ``interval_s`` and hands each (model, variant, columns) group to the
workspace's :class:`~nbops.monitor.logger.PredictionLogger` as one batch, which buffers
and writes Parquet on its own thread. Closing drains and flushes everything, so a
graceful shutdown loses no row.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa

if TYPE_CHECKING:
    from nbops.monitor.logger import PredictionLogger


class Entry(NamedTuple):  # a tuple: built once per request, so as cheap as possible
    model: str                      # name@vN
    variant: str | None
    columns: dict[str, list[Any]]   # validated features, one list per column
    predictions: list[Any]
    request_ids: list[str]
    latency_ms: float
    error: str | None = None


class RequestLog:
    def __init__(self, logger: PredictionLogger | None, *, interval_s: float = 0.1) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._queue: deque[Entry] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drain_lock = threading.Lock()
        self.rows_handed = 0

    def start(self) -> None:
        if self.logger is not None and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="nbops-serve-log", daemon=True)
            self._thread.start()

    def add(self, entry: Entry) -> None:
        if self.logger is not None:
            self._queue.append(entry)

    def drain(self) -> int:
        """Hand everything queued to the logger, one batch per (model, variant, feature names).

        One drain at a time: a caller that drains (then flushes the logger) also waits for
        rows the background thread had already taken from the queue."""
        with self._drain_lock:
            return self._drain()

    def _drain(self) -> int:
        groups: dict[tuple[str, str | None, tuple[str, ...]], list[Entry]] = {}
        while True:
            try:
                e = self._queue.popleft()
            except IndexError:
                break
            groups.setdefault((e.model, e.variant, tuple(e.columns)), []).append(e)
        n = 0
        for (model, variant, names), entries in groups.items():
            n += self._hand(model, variant, names, entries)
        self.rows_handed += n
        return n

    def _hand(self, model: str, variant: str | None, names: tuple[str, ...], entries: list[Entry]) -> int:
        assert self.logger is not None
        features = pa.table({c: pa.array([v for e in entries for v in e.columns[c]]) for c in names}) \
            if names else None
        preds = [p for e in entries for p in e.predictions]
        latency = [e.latency_ms for e in entries for _ in e.predictions]
        errors = [e.error for e in entries for _ in e.predictions]
        ids = [r for e in entries for r in e.request_ids]
        self.logger.log_predictions(model, features, pa.array(preds), request_ids=ids, latency_ms=latency,
                                    error=errors if any(errors) else None, variant=variant)
        return len(preds)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.drain()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.drain()
        if self.logger is not None:
            self.logger.flush()
