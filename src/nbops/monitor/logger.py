"""Buffered prediction and outcome logging that never raises into the serving path.

Rows are gathered in memory as Arrow tables and written as Parquet (see
:mod:`nbops.monitor.files`) when the buffer reaches ``flush_rows``, every
``flush_interval_s`` seconds (a background thread), on :meth:`flush` and at
interpreter exit. A failed write keeps its rows for the next flush (up to
``max_buffer_rows``; beyond that the oldest are dropped and counted). Every
failure is counted in :meth:`PredictionLogger.stats` and logged once per kind
through the ``nbops.monitor`` logger; nothing is raised to the caller.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from nbops import _aliases
from nbops.errors import NotFound
from nbops.monitor.files import COMPACT_MIN_FILES, LogFiles

log = logging.getLogger("nbops.monitor")
FEATURE_PREFIX = "f__"
# How long a resolved ``name@alias`` is trusted when no alias moved in this process (moves made
# by other processes are seen after at most this long).
RESOLVE_TTL_S = 5.0


@dataclass
class LoggerStats:
    rows_logged: int = 0
    rows_written: int = 0
    files_written: int = 0
    failures: int = 0
    rows_dropped: int = 0
    files_compacted: int = 0
    last_error: str | None = None
    errors_by_kind: dict[str, int] = field(default_factory=dict)


def _ts_array(timestamp: Any, n: int) -> pa.Array:
    if timestamp is None:
        return pa.array(np.full(n, np.datetime64(datetime.now(UTC).replace(tzinfo=None), "us")),
                        pa.timestamp("us", tz="UTC"))
    if isinstance(timestamp, datetime):
        t = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
        naive = t.astimezone(UTC).replace(tzinfo=None)
        return pa.array(np.full(n, np.datetime64(naive, "us")), pa.timestamp("us", tz="UTC"))
    arr = pa.array(np.asarray(timestamp, dtype="datetime64[us]")) if not isinstance(
        timestamp, pa.Array) else timestamp
    return arr.cast(pa.timestamp("us", tz="UTC"))


def _column(values: Any, n: int, what: str) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    arr = values if isinstance(values, pa.Array) else pa.array(np.asarray(values).ravel())
    if len(arr) != n:
        raise ValueError(f"{what} has {len(arr)} values, expected {n}")
    return arr


def _features(features: Any) -> tuple[list[str], list[pa.Array]]:
    if features is None:
        return [], []
    if isinstance(features, pa.Table):
        return ([FEATURE_PREFIX + c for c in features.column_names],
                [c.combine_chunks() for c in features.columns])
    if isinstance(features, Mapping):  # column name -> values
        return ([FEATURE_PREFIX + str(c) for c in features],
                [pa.array(np.asarray(v).ravel()) for v in features.values()])
    if hasattr(features, "columns"):  # a DataFrame
        names = [FEATURE_PREFIX + str(c) for c in features.columns]
        return names, [pa.array(features[c].to_numpy()) if features[c].dtype.kind in "biuf"
                       else pa.array(features[c]) for c in features.columns]
    arr = np.asarray(features)
    arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
    return ([f"{FEATURE_PREFIX}{i}" for i in range(arr.shape[1])],
            [pa.array(np.ascontiguousarray(arr[:, i])) for i in range(arr.shape[1])])


class PredictionLogger:
    """Buffers prediction and outcome rows for one workspace and writes them as Parquet."""

    def __init__(self, files: LogFiles, *, resolve: Callable[[str], tuple[str, int | None]] | None = None,
                 flush_rows: int = 100_000, flush_interval_s: float = 5.0,
                 max_buffer_rows: int = 5_000_000, compact_min_files: int = COMPACT_MIN_FILES) -> None:
        self.files = files
        self._resolve = resolve or (lambda ref: (ref.split("@", 1)[0], None))
        self._resolved: dict[str, tuple[int, float, tuple[str, int | None]]] = {}
        self.flush_rows, self.flush_interval_s = flush_rows, flush_interval_s
        self.max_buffer_rows, self.compact_min_files = max_buffer_rows, compact_min_files
        self._buffers: dict[tuple[str, str | None], list[pa.Table]] = {}
        self._buffered = 0
        self._lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self._stats = LoggerStats()
        self._warned: set[str] = set()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="nbops-monitor-flush", daemon=True)
        self._thread.start()
        atexit.register(_close_at_exit, weakref.ref(self))

    # -- public -------------------------------------------------------------
    def log_predictions(self, model: str, features: Any = None, predictions: Any = None, *,
                        scores: Any = None, request_ids: Sequence[str] | None = None,
                        latency_ms: Any = None, timestamp: Any = None, error: Any = None,
                        variant: Any = None) -> list[str]:
        """Buffer one batch of predictions; returns the request ids (generated when not given).

        ``variant`` (one value or one per row) names the A/B variant that answered; the
        column is written only when given."""
        try:
            table, ids = self._prediction_table(model, features, predictions, scores, request_ids,
                                                latency_ms, timestamp, error)
            if variant is not None:
                n = table.num_rows
                values = [variant] * n if isinstance(variant, str) else [None if v is None else str(v)
                                                                         for v in variant]
                table = table.append_column("variant", _column(pa.array(values, pa.string()), n, "variant"))
            name = table.column("model")[0].as_py()
            self._append(("predictions", name), table)
            return ids
        except Exception as exc:  # never into the serving path
            self._fail("log_predictions", exc)
            return [str(r) for r in request_ids] if request_ids is not None else []

    def log_outcomes(self, request_ids: Sequence[str], y_true: Any, *, timestamp: Any = None) -> None:
        """Buffer the true outcomes of earlier predictions, joined later by request id."""
        try:
            ids = _column([str(r) for r in request_ids], len(request_ids), "request_ids")
            n = len(ids)
            truth = _column(y_true, n, "y_true")
            table = pa.table({"request_id": ids, "ts": _ts_array(timestamp, n), "y_true": truth})
            self._append(("outcomes", None), table)
        except Exception as exc:
            self._fail("log_outcomes", exc)

    def flush(self) -> None:
        """Write everything buffered now (failures are counted, rows kept for the next flush).

        Flushes run one at a time, so one that returns has also waited for a write the
        background thread had in flight (close() at exit loses nothing to it)."""
        with self._flush_lock:
            with self._lock:
                pending, self._buffers, self._buffered = self._buffers, {}, 0
            for key, tables in pending.items():
                self._write(key, tables)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            s = self._stats
            return {"rows_logged": s.rows_logged, "rows_written": s.rows_written,
                    "rows_buffered": self._buffered, "files_written": s.files_written,
                    "failures": s.failures, "rows_dropped": s.rows_dropped,
                    "files_compacted": s.files_compacted, "last_error": s.last_error,
                    "errors_by_kind": dict(s.errors_by_kind)}

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self.flush()

    # -- internals ----------------------------------------------------------
    def _model(self, ref: str) -> tuple[str, int | None]:
        hit = self._resolved.get(ref)
        if hit is not None and hit[0] == _aliases.epoch() and time.monotonic() - hit[1] < RESOLVE_TTL_S:
            return hit[2]
        try:
            value = self._resolve(ref)
        except Exception as exc:  # an unregistered model is still logged, without a version
            if not isinstance(exc, NotFound):
                self._fail("resolve", exc)
            value = (ref.split("@", 1)[0], None)
        self._resolved[ref] = (_aliases.epoch(), time.monotonic(), value)
        return value

    def _prediction_table(self, model: str, features: Any, predictions: Any, scores: Any,
                          request_ids: Sequence[str] | None, latency_ms: Any, timestamp: Any,
                          error: Any) -> tuple[pa.Table, list[str]]:
        if predictions is None:
            raise ValueError("predictions are required")
        name, version = self._model(str(model))
        pred = _column(predictions, len(np.asarray(predictions).ravel()), "predictions") \
            if not isinstance(predictions, pa.Array) else predictions
        n = len(pred)
        ids = ([str(r) for r in request_ids] if request_ids is not None
               else [uuid.uuid4().hex for _ in range(n)])
        cols: dict[str, Any] = {
            "request_id": _column(ids, n, "request_ids"), "ts": _ts_array(timestamp, n),
            "model": pa.array([name] * n, pa.string()),
            "model_version": pa.array([version] * n, pa.int64()),
            "latency_ms": _column(latency_ms, n, "latency_ms").cast(pa.float64())
            if latency_ms is not None else pa.nulls(n, pa.float64()),
            "error": _errors(error, n), "prediction": pred,
            "score": _column(scores, n, "scores").cast(pa.float64())
            if scores is not None else pa.nulls(n, pa.float64())}
        names, arrays = _features(features)
        for c, a in zip(names, arrays, strict=True):
            if len(a) != n:
                raise ValueError(f"features have {len(a)} rows, predictions {n}")
            cols[c] = a
        return pa.table(cols), ids

    def _append(self, key: tuple[str, str | None], table: pa.Table) -> None:
        with self._lock:
            self._buffers.setdefault(key, []).append(table)
            self._buffered += table.num_rows
            self._stats.rows_logged += table.num_rows
            full = self._buffered >= self.flush_rows
        if full:
            self.flush()

    def _write(self, key: tuple[str, str | None], tables: list[pa.Table]) -> None:
        kind, model = key
        try:
            table = pa.concat_tables(tables, promote_options="permissive")
            for part, piece in _split_by_hour(table):
                partition = self.files.partition(kind, model, *part)
                self.files.write(partition, piece)
                with self._lock:
                    self._stats.rows_written += piece.num_rows
                    self._stats.files_written += 1
                self._maybe_compact(partition)
        except Exception as exc:
            self._fail("write", exc)
            self._keep(key, tables)

    def _maybe_compact(self, partition: str) -> None:
        if not self.files.is_local:  # listing S3 after each write costs a request; compact by CLI
            return
        try:
            merged = self.files.compact(partition, self.compact_min_files)
            with self._lock:
                self._stats.files_compacted += merged
        except Exception as exc:
            self._fail("compact", exc)

    def _keep(self, key: tuple[str, str | None], tables: list[pa.Table]) -> None:
        with self._lock:
            self._buffers.setdefault(key, [])[:0] = tables
            self._buffered += sum(t.num_rows for t in tables)
            while self._buffered > self.max_buffer_rows:
                oldest = next(k for k, v in self._buffers.items() if v)
                dropped = self._buffers[oldest].pop(0)
                self._buffered -= dropped.num_rows
                self._stats.rows_dropped += dropped.num_rows

    def _fail(self, kind: str, exc: BaseException) -> None:
        with self._lock:
            self._stats.failures += 1
            self._stats.errors_by_kind[kind] = self._stats.errors_by_kind.get(kind, 0) + 1
            self._stats.last_error = f"{kind}: {type(exc).__name__}: {exc}"
            first = kind not in self._warned
            self._warned.add(kind)
        if first:
            log.warning("nbops monitor logging failed (%s): %s; counted in logger.stats()", kind, exc)

    def _loop(self) -> None:
        while not self._closed.wait(self.flush_interval_s):
            if self._buffered:
                try:
                    self.flush()
                except Exception as exc:  # pragma: no cover - flush already counts its failures
                    self._fail("flush", exc)


def _close_at_exit(ref: weakref.ReferenceType[PredictionLogger]) -> None:
    lg = ref()
    if lg is not None:
        lg.close()


def _errors(error: Any, n: int) -> pa.Array:
    if error is None:
        return pa.nulls(n, pa.string())
    if isinstance(error, (str, BaseException)):
        return pa.array([str(error) or type(error).__name__] * n, pa.string())
    return pa.array([None if e is None else str(e) for e in error], pa.string())


def _split_by_hour(table: pa.Table) -> list[tuple[tuple[str, int], pa.Table]]:
    """The table's rows grouped by their UTC (date, hour)."""
    import pyarrow.compute as pc

    micros = table.column("ts").cast(pa.int64()).to_numpy(zero_copy_only=False)
    hours = micros // 3_600_000_000
    first, last = int(hours.min()), int(hours.max())
    if first == last:
        return [(_label(first), table)]
    out = []
    for h in np.unique(hours):
        mask = pa.array(hours == h)
        out.append((_label(int(h)), pc.filter(table, mask)))
    return out


def _label(hour_index: int) -> tuple[str, int]:
    t = datetime.fromtimestamp(hour_index * 3600, UTC)
    return t.strftime("%Y-%m-%d"), t.hour
