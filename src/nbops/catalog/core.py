"""The DuckLake catalog: one attachment per process, transactions with retry, migrations."""

from __future__ import annotations

import os
import random
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd

from nbops.catalog import extensions
from nbops.catalog.migrations import all_migrations
from nbops.config import Settings
from nbops.errors import CatalogBusy, CatalogError, CatalogTooNew

T = TypeVar("T")
_SHARED: dict[tuple[str, str], Catalog] = {}
_SHARED_LOCK = threading.RLock()  # re-entered when a failed open closes itself

# DuckDB's DataFrame conversion calls a pandas API that pandas 3.1 deprecates; not ours to act on.
warnings.filterwarnings("ignore", message="The inplace keyword in DataFrame.drop", category=Warning)
LAKE = "lake"

# Substrings of DuckDB/DuckLake errors that mean "someone else was writing: try again".
_RETRYABLE = ("database is locked", "conflict", "busy", "could not serialize", "deadlock")
_MAX_ATTEMPTS = 60
_WRITER_WAIT_S = 120.0  # how long a commit waits for other processes' commits before CatalogBusy
_INLINE_LIMIT = 64  # rows per statement sent as VALUES; larger batches go through Arrow


# DuckLake keeps small inserts ("inlined" rows) in the metadata database, where they read about
# three times slower than from Parquet; past this many, they are moved to Parquet files.
_FLUSH_ROWS = 20_000
_FLUSH_CHECK_EVERY = 500  # commits of this process between two looks at that count
_PENDING_INLINED = (
    f"SELECT (SELECT sum(record_count) FROM __ducklake_metadata_{LAKE}.ducklake_table_stats), "
    f"(SELECT sum(record_count) FROM __ducklake_metadata_{LAKE}.ducklake_data_file "
    "WHERE end_snapshot IS NULL)")


def _is_retryable(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(s in text for s in _RETRYABLE)


def _backoff(attempt: int) -> None:
    # Exponential with full jitter, capped: contention clears in tens of milliseconds.
    time.sleep(random.uniform(0, min(0.5, 0.005 * 2**attempt)))


def sql_str(value: str) -> str:
    """``value`` as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


class WriterLock:
    """Makes the processes committing to one embedded (SQLite) catalog take turns.

    DuckLake reads its snapshot from SQLite when a transaction begins and writes at
    COMMIT. In WAL mode SQLite refuses, at once and without honouring the busy timeout,
    a write from a transaction whose snapshot another process has moved past ("database
    is locked"). Concurrent writers then nearly always collide and redo their whole
    commit. An exclusive ``flock`` on ``<catalog>.lock``, held from BEGIN to COMMIT,
    makes them queue instead; the retry in :meth:`Catalog.transaction` stays as the
    safety net (other writers, platforms without ``fcntl``).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fd: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        import fcntl

        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError:  # a read-only workspace: fall back to retrying conflicts
                self.path = None
                yield
                return
        deadline = time.monotonic() + _WRITER_WAIT_S
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise CatalogBusy(f"another process kept {self.path} locked for "
                                      f"{_WRITER_WAIT_S:.0f} s", hint="try again") from None
                time.sleep(random.uniform(0.001, 0.01))
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _writer_lock_path(settings: Settings) -> Path | None:
    prefix = "ducklake:sqlite:"
    if not settings.catalog_url.startswith(prefix) or os.name != "posix":
        return None
    return Path(settings.catalog_url[len(prefix):] + ".lock")


class Catalog:
    """A DuckLake catalog opened through DuckDB, with the nbops schema applied."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._depth = threading.local()
        self._barriers: list[Callable[[], None]] = []
        self._refs = 1
        self._writer = WriterLock(_writer_lock_path(settings))
        self._con = self._connect()
        row = self._con.execute("SELECT current_setting('threads')").fetchone()
        self._threads = int(row[0]) if row else 1
        self._commits = 0
        try:
            self.schema_version = self._migrate()
        except BaseException:
            self.close()
            raise
        self.flush_inlined()

    @classmethod
    def shared(cls, settings: Settings) -> Catalog:
        """The process's one attachment of this catalog (DuckLake wants one per process).

        Every opener gets the same Catalog and must ``close()`` it once; the
        connection closes with the last one.
        """
        key = (settings.catalog_url, settings.data_path)
        with _SHARED_LOCK:
            cat = _SHARED.get(key)
            if cat is not None and cat._refs > 0:
                cat._refs += 1
                return cat
            cat = cls(settings)
            _SHARED[key] = cat
            return cat

    def add_barrier(self, barrier: Callable[[], None]) -> None:
        """Call ``barrier`` before each outermost read or write: it waits for writes queued
        elsewhere in this process (a tracked cell's pending commit), so readers see them."""
        if barrier not in self._barriers:
            self._barriers.append(barrier)

    def remove_barrier(self, barrier: Callable[[], None]) -> None:
        if barrier in self._barriers:
            self._barriers.remove(barrier)

    @contextmanager
    def _locked(self) -> Iterator[duckdb.DuckDBPyConnection]:
        depth = getattr(self._depth, "n", 0)
        if depth == 0:
            for barrier in list(self._barriers):
                barrier()
        with self._lock:
            self._depth.n = depth + 1
            try:
                yield self._con
            finally:
                self._depth.n = depth

    # -- connection -------------------------------------------------------
    def _connect(self) -> duckdb.DuckDBPyConnection:
        s = self.settings
        con = extensions.connect()
        extensions.load(con, "ducklake")
        if s.catalog_url.startswith("ducklake:sqlite:"):
            extensions.load(con, "sqlite")
        elif s.catalog_url.startswith("ducklake:postgres:"):
            extensions.load(con, "postgres")
        if "s3://" in (s.data_path + s.store_path):
            extensions.load(con, "httpfs")
            self._create_s3_secret(con)
        opts = [f"DATA_PATH {sql_str(s.data_path)}"]
        if s.catalog_url.startswith("ducklake:sqlite:"):
            opts += ["META_JOURNAL_MODE 'WAL'", "META_BUSY_TIMEOUT 10000"]
        attach = f"ATTACH {sql_str(s.catalog_url)} AS {LAKE} ({', '.join(opts)})"
        for attempt in range(_MAX_ATTEMPTS):
            try:
                with self._writer.held():  # a new catalog's metadata tables are created here
                    con.execute(attach)
                break
            except duckdb.Error as exc:
                if not _is_retryable(exc) or attempt == _MAX_ATTEMPTS - 1:
                    con.close()
                    self._writer.close()
                    raise CatalogError(
                        f"cannot open the catalog {s.catalog_url}: {exc}", hint="run `nbops doctor`"
                    ) from exc
                _backoff(attempt)
        con.execute(f"USE {LAKE}")
        if s.catalog_url.startswith("ducklake:postgres:"):
            con.execute("SET ducklake_max_retry_count = 100")
        return con

    def _create_s3_secret(self, con: duckdb.DuckDBPyConnection) -> None:
        s3 = self.settings.s3
        parts = ["TYPE S3", f"REGION {sql_str(s3.region)}", f"URL_STYLE {sql_str(s3.url_style)}",
                 f"USE_SSL {'true' if s3.use_ssl else 'false'}"]
        if s3.key_id:
            parts.append(f"KEY_ID {sql_str(s3.key_id)}")
        if s3.secret:
            parts.append(f"SECRET {sql_str(s3.secret)}")
        if s3.endpoint:
            parts.append(f"ENDPOINT {sql_str(s3.endpoint)}")
        con.execute(f"CREATE OR REPLACE SECRET nbops_s3 ({', '.join(parts)})")

    def close(self) -> None:
        with _SHARED_LOCK:
            self._refs -= 1
            if self._refs > 0:
                return
            if _SHARED.get((self.settings.catalog_url, self.settings.data_path)) is self:
                del _SHARED[(self.settings.catalog_url, self.settings.data_path)]
        with self._lock:
            try:
                self._con.close()
            except duckdb.Error:
                pass
            self._writer.close()

    # -- migrations -------------------------------------------------------
    def _migrate(self) -> int:
        migrations = all_migrations()
        supported = len(migrations)

        def step(con: duckdb.DuckDBPyConnection) -> int:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER, name VARCHAR, applied_at TIMESTAMPTZ, applied_by VARCHAR)"
            )
            row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            current = int(row[0]) if row else 0
            if current > supported:
                raise CatalogTooNew(current, supported)
            for mod in migrations[current:]:
                mod.apply(con)
                con.execute(
                    "INSERT INTO schema_version VALUES (?, ?, ?, ?)",
                    [mod.VERSION, mod.__name__.rsplit(".", 1)[-1], datetime.now(UTC), self.settings.user],
                )
            return supported

        return self.transaction(step)

    # -- transactions -----------------------------------------------------
    def transaction(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run ``fn`` in one commit; retry the whole of it on lock conflicts."""
        with self._locked() as con, self._single_threaded():
            for attempt in range(_MAX_ATTEMPTS):
                try:
                    result = self._attempt(con, fn)
                    break
                except duckdb.Error as exc:
                    if not _is_retryable(exc):
                        raise CatalogError(f"catalog write failed: {exc}") from exc
                    _backoff(attempt)
            else:
                raise CatalogBusy(
                    f"the catalog stayed locked through {_MAX_ATTEMPTS} attempts",
                    hint="another process holds it; try again",
                )
        self._commits += 1
        if self._commits % _FLUSH_CHECK_EVERY == 0:
            self.flush_inlined()
        return result

    def flush_inlined(self, min_rows: int = _FLUSH_ROWS) -> int:
        """Move the rows DuckLake inlined into the metadata database to Parquet files, once
        there are ``min_rows`` of them; the data and its snapshots (time travel) stay as they
        were. Embedded (SQLite) catalogs only; best effort: returns how many rows moved, 0
        when there were too few or another process held the catalog."""
        if not self.settings.is_embedded:
            return 0
        try:
            with self._lock, self._single_threaded():
                row = self._con.execute(_PENDING_INLINED).fetchone()
                pending = int(row[0] or 0) - int(row[1] or 0) if row else 0
                if pending < min_rows:
                    return 0
                with self._writer.held():
                    self._con.execute(f"CALL ducklake_flush_inlined_data('{LAKE}')").fetchall()
                return pending
        except (duckdb.Error, CatalogBusy):
            return 0

    @contextmanager
    def _single_threaded(self) -> Iterator[None]:
        """Run on the calling thread only: a commit is dozens of tiny metadata queries, for
        which DuckDB's worker threads add only hand-offs (a third of a commit's time on a
        busy two-core machine). Reads keep every thread."""
        if self._threads <= 1:
            yield
            return
        self._con.execute("SET threads = 1")
        try:
            yield
        finally:
            self._con.execute(f"SET threads = {self._threads}")

    def _attempt(self, con: duckdb.DuckDBPyConnection,
                 fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        try:
            with self._writer.held():
                con.execute("BEGIN TRANSACTION")
                result = fn(con)
                con.execute("COMMIT")
            return result
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise

    def insert(self, con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Any]) -> None:
        """Append dataclass rows to ``table`` in as few statements as possible."""
        if not rows:
            return
        names = [f.name for f in fields(rows[0])]
        cols = ", ".join(names)
        if len(rows) <= _INLINE_LIMIT:
            one = "(" + ", ".join("?" * len(names)) + ")"
            values = ", ".join([one] * len(rows))
            flat = [v for r in rows for v in astuple(r)]
            con.execute(f"INSERT INTO {table} ({cols}) VALUES {values}", flat)
            return
        frame = pd.DataFrame([astuple(r) for r in rows], columns=names)
        view = f"_nbops_insert_{table}"
        con.register(view, frame)
        try:
            con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {view}")
        finally:
            con.unregister(view)

    # -- reads ------------------------------------------------------------
    # ``local=True`` runs on a side connection that sees only the given ``frames``, not the
    # catalog: for reshaping what was read without a catalog round trip per statement.
    def _read(self, sql: str, params: Sequence[Any] | None, frames: dict[str, Any] | None,
              fetch: Callable[[duckdb.DuckDBPyConnection], T], local: bool) -> T:
        """Run a read with retries; ``frames`` (DataFrames or Arrow tables) are views meanwhile."""
        with self._locked() as main:
            con = main.cursor() if local else main
            for name, frame in (frames or {}).items():
                con.register(name, frame)
            try:
                for attempt in range(_MAX_ATTEMPTS):
                    try:
                        return fetch(con.execute(sql, params or []))
                    except duckdb.Error as exc:
                        if not _is_retryable(exc) or attempt == _MAX_ATTEMPTS - 1:
                            raise
                        _backoff(attempt)
            finally:
                if local:
                    con.close()
                else:
                    for name in frames or {}:
                        con.unregister(name)
        raise AssertionError("unreachable")

    def query(self, sql: str, params: Sequence[Any] | None = None,
              frames: dict[str, Any] | None = None, *, local: bool = False) -> pd.DataFrame:
        """Run a read; ``frames`` are registered as views for the query's duration."""
        return self._read(sql, params, frames, lambda r: r.df(), local)

    def arrow(self, sql: str, params: Sequence[Any] | None = None,
              frames: dict[str, Any] | None = None, *, local: bool = False) -> Any:
        """Like :meth:`query`, as a pyarrow Table (no pandas conversion)."""
        return self._read(sql, params, frames, lambda r: r.to_arrow_table(), local)

    def arrow_many(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several reads as pyarrow Tables, all from one snapshot (one transaction)."""
        with self._locked() as con:
            for attempt in range(_MAX_ATTEMPTS):
                try:
                    con.execute("BEGIN TRANSACTION")
                    out = [con.execute(sql, list(args)).to_arrow_table() for sql, args in queries]
                    con.execute("COMMIT")
                    return out
                except duckdb.Error as exc:
                    try:
                        con.execute("ROLLBACK")
                    except duckdb.Error:
                        pass
                    if not _is_retryable(exc) or attempt == _MAX_ATTEMPTS - 1:
                        raise
                    _backoff(attempt)
        raise AssertionError("unreachable")

    def fetchall(self, sql: str, params: Sequence[Any] | None = None,
                 frames: dict[str, Any] | None = None, *, local: bool = False) -> list[tuple[Any, ...]]:
        return self._read(sql, params, frames, lambda r: r.fetchall(), local)
