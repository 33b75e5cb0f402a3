"""The scheduler daemon: fires schedules from the catalog, one per workspace, restart-safe.

Every tick it reads the schedules, the latest slot fired per schedule and the
pending triggers, and decides what is due (cron slots per the catch-up policy,
changed watched datasets, triggers). A slot is claimed in the catalog before
its notebook starts, so a slot never fires twice, across restarts too; a
schedule that is still running is not fired again until it ends. Runs execute
on worker threads, with retries and exponential backoff; final failures go to
``.nbops/logs/scheduler.log`` and ``pipeline_events``. ``stop()`` (SIGTERM)
stops firing, lets running notebooks finish for ``shutdown_wait`` seconds, then
kills their kernels and records them as interrupted.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbops.catalog.pipeline_records import (
    Catchup,
    EventAction,
    PipelineStatus,
    ScheduleRow,
    SlotRow,
    SlotStatus,
    TriggerKind,
)
from nbops.catalog.pipelines import PipelineRepository
from nbops.pipelines.clock import Clock, SystemClock
from nbops.pipelines.cron import latest_slot, next_slot
from nbops.pipelines.events import event_row
from nbops.pipelines.lease import SchedulerLease, pid_alive
from nbops.pipelines.watch import FileCache, dataset_fingerprint

if TYPE_CHECKING:
    from nbops.pipelines.runner import PipelineRun, RunControl
    from nbops.workspace import Workspace

MAX_BACKOFF_S = 3600.0


def backoff_delay(retry_delay: float, attempt: int) -> float:
    """Seconds to wait after failed ``attempt`` (1-based): delay, 2×delay, 4×delay, ... capped."""
    return min(retry_delay * 2 ** (attempt - 1), max(retry_delay, MAX_BACKOFF_S))


def run_with_retries(ws: Workspace, sched: ScheduleRow, *, slot_key: str, progress: Any = False,
                     clock: Clock | None = None, stop: threading.Event | None = None,
                     on_attempt: Callable[[RunControl], None] | None = None,
                     log: logging.Logger | None = None,
                     extra_parameters: Mapping[str, Any] | None = None) -> PipelineRun:
    """Run a schedule's notebook, retrying failures ``sched.retries`` times with backoff."""
    from nbops.pipelines.runner import RunControl, run

    clock = clock or SystemClock()
    params = {**json.loads(sched.parameters), **(extra_parameters or {})}
    root = ws.settings.home.resolve().parent
    cwd = str(root / sched.cwd) if sched.cwd else None
    repo = PipelineRepository(ws.catalog)
    attempt = 1
    while True:
        control = RunControl()
        if on_attempt is not None:
            on_attempt(control)
        result = run(sched.notebook, params, ws=ws, timeout=sched.timeout_s, kernel=sched.kernel,
                     cwd=cwd, progress=progress, schedule=sched.name, slot_key=slot_key,
                     attempt=attempt, control=control)
        stopping = stop is not None and stop.is_set()
        if (result.ok or attempt > sched.retries or stopping
                or result.status == PipelineStatus.INTERRUPTED):
            return result
        delay = backoff_delay(sched.retry_delay_s, attempt)
        if log is not None:
            log.warning("%s: attempt %d %s (%s); retrying in %.0f s", sched.name, attempt,
                        result.status, result.error_name or "-", delay)
        ev = event_row(actor="scheduler", action=EventAction.RUN_RETRY, schedule_name=sched.name,
                       pipeline_run_id=result.id, detail={"attempt": attempt, "delay_s": delay,
                                                          "status": str(result.status)})
        ws.catalog.transaction(_events_writer(repo, ev))
        if clock.sleep(delay, stop):
            return result
        attempt += 1


def _events_writer(repo: PipelineRepository, *events: Any) -> Callable[[Any], None]:
    return lambda con: repo.insert_events(con, list(events))


@dataclass(frozen=True)
class Fire:
    """A decision to run a schedule for one slot."""

    schedule: ScheduleRow
    slot_key: str
    slot_time: datetime | None
    trigger: TriggerKind
    detail: str | None = None


class Scheduler:
    """``nbops scheduler``: start(), then tick() repeatedly (run_forever), then stop()."""

    def __init__(self, ws: Workspace, *, clock: Clock | None = None, interval: float = 30.0,
                 max_workers: int = 2, grace: float = 120.0, shutdown_wait: float = 300.0,
                 lease_ttl: float | None = None, progress: bool = False,
                 notifier: Callable[[ScheduleRow, PipelineRun], None] | None = None) -> None:
        self.ws, self.clock, self.interval = ws, clock or SystemClock(), interval
        self.grace = timedelta(seconds=grace)
        self.shutdown_wait, self.progress, self.notifier = shutdown_wait, progress, notifier
        self.repo = PipelineRepository(ws.catalog)
        self.lease = SchedulerLease(ws, self.repo, self.clock,
                                    ttl=lease_ttl or max(90.0, 3 * interval))
        self.root = ws.settings.home.resolve().parent
        self.log = logging.getLogger(f"nbops.scheduler.{self.lease.holder_id}")
        self.log.setLevel(logging.INFO)
        self._handler: logging.Handler | None = None
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="nbops-run")
        self._running: dict[str, Future[Any]] = {}
        self._controls: dict[str, RunControl] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._files: FileCache = {}
        self.started = False

    # -- lifecycle --------------------------------------------------------
    def start(self) -> None:
        self.lease.acquire()
        self.started = True
        log_dir = self.ws.settings.home / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self._handler = logging.FileHandler(log_dir / "scheduler.log")
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        self.log.addHandler(self._handler)
        self.log.info("scheduler started: pid %d on %s", self.lease.pid, self.lease.host)
        self._record(EventAction.SCHEDULER_START, detail={"pid": self.lease.pid,
                                                          "host": self.lease.host})
        self._recover_orphaned_runs()

    def _recover_orphaned_runs(self) -> None:
        """Runs left 'running' by a process on this host that no longer exists are interrupted."""
        from dataclasses import replace

        for row in self.repo.running_runs(self.lease.host):
            if pid_alive(row.pid):
                continue
            now = self.clock.now()
            self.repo.save_run_state(replace(
                row, status=PipelineStatus.INTERRUPTED, ended_at=now, recorded_at=now,
                error_name="Interrupted",
                error_message=f"the process that ran it (pid {row.pid}) ended before the run did"))
            self.log.warning("run %s of %s was left running by pid %d: recorded as interrupted",
                             row.pipeline_run_id, row.schedule_name or row.notebook, row.pid)

    def request_stop(self) -> None:
        """Ask run_forever to stop (safe from a signal handler)."""
        self._stop.set()

    def stop(self) -> None:
        """Stop firing; let running notebooks finish (bounded), then kill them as interrupted."""
        self._stop.set()
        if not self.started:
            return
        with self._lock:
            futures = dict(self._running)
        if futures:
            self.log.info("stopping: waiting up to %.0f s for %d running notebook(s)",
                          self.shutdown_wait, len(futures))
        deadline = threading.Event()
        timer = threading.Timer(self.shutdown_wait, deadline.set)
        timer.start()
        for name, fut in futures.items():
            while not fut.done() and not deadline.is_set():
                deadline.wait(0.2)
            if not fut.done():
                self.log.warning("%s: still running at shutdown; killing it", name)
                with self._lock:
                    control = self._controls.get(name)
                if control is not None:
                    control.kill(PipelineStatus.INTERRUPTED)
        timer.cancel()
        self._pool.shutdown(wait=True)
        self._record(EventAction.SCHEDULER_STOP)
        self.log.info("scheduler stopped")
        self.lease.release()
        if self._handler is not None:
            self.log.removeHandler(self._handler)
            self._handler.close()
        self.started = False

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stop.is_set():
                try:
                    self.tick()
                except Exception:  # noqa: BLE001 - a bad tick must not end the daemon
                    self.log.exception("tick failed")
                self.clock.sleep(self.interval, self._stop)
        finally:
            self.stop()

    def run_once(self) -> list[Fire]:
        """Fire everything due now (all missed slots, for catchup=all), wait for it, stop."""
        self.start()
        fired: list[Fire] = []
        try:
            while not self._stop.is_set():
                batch = self.tick()
                self.wait()
                if not batch:
                    break
                fired += batch
        finally:
            self.stop()
        return fired

    def wait(self) -> None:
        with self._lock:
            futures = list(self._running.values())
        for fut in futures:
            fut.exception()

    # -- one tick ---------------------------------------------------------
    def tick(self) -> list[Fire]:
        """Fire what is due now; return what was fired."""
        self.lease.heartbeat()
        fired = []
        for fire in self.due(self.clock.now()):
            if self._claim(fire):
                self._submit(fire)
                fired.append(fire)
        return fired

    def due(self, now: datetime) -> list[Fire]:
        """At most one fire per schedule that is not running: a trigger, a cron slot, a dataset change."""
        schedules = self.repo.schedules(include_paused=False)
        marks = self.repo.cron_watermarks()
        data = self.repo.dataset_states() if any(s.watch for s in schedules) else {}
        triggers: dict[str, Fire] = {}
        by_name = {s.name: s for s in schedules}
        for t in self.repo.pending_triggers():
            if t.schedule_name in by_name and t.schedule_name not in triggers:
                triggers[t.schedule_name] = Fire(by_name[t.schedule_name], f"trigger:{t.trigger_id}",
                                                 None, TriggerKind(t.kind), t.reason)
        with self._lock:
            busy = set(self._running)
        out = []
        for s in schedules:
            if s.name in busy:
                continue
            fire = (triggers.get(s.name) or (self._cron_fire(s, marks.get(s.name), now) if s.cron else None)
                    or (self._dataset_fire(s, data.get(s.name)) if s.watch else None))
            if fire is not None:
                out.append(fire)
        return out

    def _cron_fire(self, s: ScheduleRow, mark: datetime | None, now: datetime) -> Fire | None:
        assert s.cron is not None
        base = max(mark, s.created_at) if mark is not None else s.created_at
        first = next_slot(s.cron, s.tz, base)
        if first > now:
            return None
        if s.catchup == Catchup.ALL:
            slot = first
        else:
            slot = latest_slot(s.cron, s.tz, now)
            if s.catchup == Catchup.NONE and now - slot > self.grace:
                self._skip(s, slot, f"missed (catchup=none); due at {slot.isoformat()}")
                return None
        return Fire(s, f"cron:{slot.isoformat()}", slot, TriggerKind.CRON)

    def _dataset_fire(self, s: ScheduleRow, state: tuple[str, int] | None) -> Fire | None:
        assert s.watch is not None
        fp = dataset_fingerprint(self.root, s.watch, self._files)
        if state is None or state[0] == fp:
            return None
        return Fire(s, f"dataset:{fp}:{state[1]}", None, TriggerKind.DATASET, fp)

    def _skip(self, s: ScheduleRow, slot: datetime, why: str) -> None:
        now = self.clock.now()
        row = SlotRow(s.name, f"cron:{slot.isoformat()}", slot, TriggerKind.CRON, SlotStatus.SKIPPED,
                      now, self.lease.holder_id, why)
        ev = event_row(actor="scheduler", action=EventAction.SLOT_SKIPPED, schedule_name=s.name,
                       detail={"slot": slot.isoformat(), "reason": why}, now=now)

        def write(con: Any) -> None:
            if self.repo.claim_slot(con, row):
                self.repo.insert_events(con, [ev])

        self.ws.catalog.transaction(write)
        self.log.info("%s: skipped slot %s: %s", s.name, slot.isoformat(), why)

    def _claim(self, fire: Fire) -> bool:
        row = SlotRow(fire.schedule.name, fire.slot_key, fire.slot_time, fire.trigger,
                      SlotStatus.CLAIMED, self.clock.now(), self.lease.holder_id, fire.detail)
        return bool(self.ws.catalog.transaction(lambda con: self.repo.claim_slot(con, row)))

    # -- execution --------------------------------------------------------
    def _submit(self, fire: Fire) -> None:
        name = fire.schedule.name
        self.log.info("%s: firing %s (%s)", name, fire.slot_key, fire.trigger)
        with self._lock:
            self._running[name] = self._pool.submit(self._execute, fire)

    def _execute(self, fire: Fire) -> PipelineRun | None:
        s = fire.schedule

        def register(control: RunControl) -> None:
            with self._lock:
                self._controls[s.name] = control

        def report(line: str) -> None:
            self.log.info("%s: %s", s.name, line.strip())

        try:
            result = run_with_retries(self.ws, s, slot_key=fire.slot_key, clock=self.clock,
                                      stop=self._stop, on_attempt=register, log=self.log,
                                      progress=report if self.progress else False)
            self._after(s, result)
            return result
        except Exception:
            self.log.exception("%s: could not run %s", s.name, fire.slot_key)
            return None
        finally:
            with self._lock:
                self._running.pop(s.name, None)
                self._controls.pop(s.name, None)

    def _after(self, s: ScheduleRow, result: PipelineRun) -> None:
        if result.ok:
            self.log.info("%s: run %s succeeded (attempt %d)", s.name, result.id, result.attempt)
            return
        action = (EventAction.RUN_INTERRUPTED if result.status == PipelineStatus.INTERRUPTED
                  else EventAction.RUN_FAILED)
        self.log.error("%s: run %s %s after %d attempt(s): %s %s (notify: %s)", s.name, result.id,
                       result.status, result.attempt, result.error_name or "",
                       result.error_message or "", s.on_failure or "log")
        self._record(action, schedule_name=s.name, pipeline_run_id=result.id,
                     detail={"status": str(result.status), "attempt": result.attempt,
                             "error": result.error_name, "message": result.error_message,
                             "channel": s.on_failure})
        if self.notifier is not None and action == EventAction.RUN_FAILED:
            self.notifier(s, result)

    def _record(self, action: EventAction, *, schedule_name: str | None = None,
                pipeline_run_id: str | None = None, detail: dict[str, Any] | None = None) -> None:
        ev = event_row(actor="scheduler", action=action, schedule_name=schedule_name,
                       pipeline_run_id=pipeline_run_id, detail=detail, now=self.clock.now())
        self.ws.catalog.transaction(lambda con: self.repo.insert_events(con, [ev]))


def log_path(ws: Workspace) -> Path:
    return ws.settings.home / "logs" / "scheduler.log"
