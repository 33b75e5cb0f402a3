"""One scheduler per workspace: an OS file lock in ``.nbops/`` plus a lease row in the catalog.

The file lock (``fcntl.flock``) is exact on one machine and vanishes with the
process, even after ``kill -9``. The lease row (holder, host, pid, heartbeat)
covers schedulers on different machines sharing a team catalog and lets a
refused scheduler say who holds the workspace. A lease whose heartbeat is
older than ``ttl`` is dead. DuckLake has no unique constraint, so two machines
that race for a free lease both insert a row, wait ``settle`` seconds, and the
earliest row wins; the other one withdraws.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import socket
import time
from datetime import timedelta
from typing import IO, Any

from nbops.catalog.pipeline_records import LeaseRow
from nbops.catalog.pipelines import PipelineRepository
from nbops.errors import NbopsError
from nbops.pipelines.clock import Clock


class SchedulerLocked(NbopsError):
    """Another scheduler holds this workspace."""

    exit_code = 3
    http_status = 409

    def __init__(self, holder: dict[str, Any]) -> None:
        self.holder = holder
        since = holder.get("acquired_at", "?")
        super().__init__(
            f"another scheduler holds this workspace: pid {holder.get('pid')} on "
            f"{holder.get('host')} (user {holder.get('user')}, since {since})",
            hint="stop that scheduler first (SIGTERM lets it finish gracefully); "
                 "one scheduler per workspace")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SchedulerLease:
    def __init__(self, ws: Any, repo: PipelineRepository, clock: Clock, *, ttl: float = 90.0,
                 settle: float | None = None) -> None:
        self.ws, self.repo, self.clock, self.ttl = ws, repo, clock, ttl
        self.settle = (0.0 if ws.settings.is_embedded else 2.0) if settle is None else settle
        self.holder_id = secrets.token_hex(8)
        self.host, self.pid = socket.gethostname(), os.getpid()
        self._file: IO[str] | None = None

    def _info(self) -> dict[str, Any]:
        return {"holder_id": self.holder_id, "host": self.host, "pid": self.pid,
                "user": self.ws.settings.user, "acquired_at": self.clock.now().isoformat()}

    def acquire(self) -> None:
        self._lock_file()
        try:
            self._take_lease()
        except BaseException:
            self._unlock_file()
            raise

    def _lock_file(self) -> None:
        path = self.ws.settings.home / "scheduler.lock"
        fh = open(path, "a+")  # noqa: SIM115 - held open for the scheduler's lifetime
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            try:
                holder = json.loads(fh.read() or "{}")
            except ValueError:
                holder = {}
            fh.close()
            raise SchedulerLocked(holder) from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps(self._info()))
        fh.flush()
        self._file = fh

    def _unlock_file(self) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the flock
            self._file = None

    def _take_lease(self) -> None:
        now = self.clock.now()
        stale_before = now - timedelta(seconds=self.ttl)
        row = LeaseRow(self.holder_id, self.host, self.pid, self.ws.settings.user, now, now, None)

        def write(con: Any) -> LeaseRow | None:
            for other in self.repo.live_leases(con, stale_before):
                # We hold the file lock, so a holder on this host is a dead process.
                if other.host == self.host:
                    con.execute("UPDATE scheduler_leases SET released_at = ? WHERE holder_id = ?",
                                [now, other.holder_id])
                    continue
                return other
            self.repo.insert_lease(con, row)
            return None

        other = self.ws.catalog.transaction(write)
        if other is None and self.settle:
            time.sleep(self.settle)
            live = self.ws.catalog.transaction(lambda con: self.repo.live_leases(con, stale_before))
            if live and live[0].holder_id != self.holder_id:
                other = live[0]
                self.repo.release_lease(self.holder_id, now)
        if other is not None:
            raise SchedulerLocked({"host": other.host, "pid": other.pid, "user": other.user_name,
                                   "acquired_at": other.acquired_at.isoformat()})

    def heartbeat(self) -> None:
        self.repo.heartbeat(self.holder_id, self.clock.now())

    def release(self) -> None:
        try:
            self.repo.release_lease(self.holder_id, self.clock.now())
        finally:
            self._unlock_file()
