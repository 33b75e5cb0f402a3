"""Schedules in the catalog: add, list, pause, resume, remove, trigger, run now.

A schedule fires on a cron expression, on a change of a watched dataset's
content, on a trigger (a monitoring alert, ``nbops schedule trigger``), or any
mix of these. Each change appends a new revision of the schedule together with
its event (``record_change``) in one commit.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb

from nbops.catalog.pipeline_records import (
    Catchup,
    EventAction,
    ScheduleRow,
    SlotRow,
    SlotStatus,
    TriggerKind,
    TriggerRow,
)
from nbops.catalog.pipelines import PipelineRepository
from nbops.errors import NbopsError
from nbops.pipelines.cron import ScheduleError, check_cron, check_tz, latest_slot
from nbops.pipelines.events import record_change
from nbops.pipelines.params import check_parameters
from nbops.pipelines.watch import dataset_fingerprint

if TYPE_CHECKING:
    from nbops.pipelines.runner import PipelineRun
    from nbops.workspace import Workspace

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")


class ScheduleExists(ScheduleError):
    http_status = 409


def _ws(ws: Workspace | None) -> Workspace:
    if ws is not None:
        return ws
    from nbops.workspace import Workspace

    return Workspace.open()


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ScheduleError(f"invalid schedule name {name!r}",
                            hint="use letters, digits, '_', '-' and '.', at most 100 characters")
    return name


def _check_numbers(retries: int, retry_delay: float, timeout: float | None) -> None:
    if retries < 0 or retry_delay < 0:
        raise ScheduleError("--retries and --retry-delay must not be negative")
    if timeout is not None and timeout <= 0:
        raise ScheduleError("--timeout must be a positive number of seconds")


def add_schedule(name: str, notebook: str, *, ws: Workspace | None = None, cron: str | None = None,
                 watch: str | None = None, parameters: Mapping[str, Any] | None = None,
                 retries: int = 0, retry_delay: float = 60.0, timeout: float | None = None,
                 catchup: str = Catchup.NONE, on_failure: str | None = None,
                 kernel: str | None = None, cwd: str | None = None, tz: str = "UTC",
                 paused: bool = False, replace_existing: bool = False, actor: str | None = None,
                 now: datetime | None = None) -> ScheduleRow:
    """Create (or with ``replace_existing``, redefine) a schedule; return its stored row.

    ``cron`` is 5-field cron in ``tz``; ``watch`` a path or glob (relative to the workspace
    root) whose content change fires the schedule; with neither, only triggers and
    ``run-now`` fire it. ``catchup`` says what a scheduler that was down does with missed
    cron slots: ``none`` (skip), ``latest`` (run the last one) or ``all``.
    """
    from nbops.pipelines.runner import _relative_to_root, resolve_notebook

    ws = _ws(ws)
    check_name(name)
    try:
        catchup = Catchup(catchup)
    except ValueError:
        raise ScheduleError(f"catchup must be one of none, latest, all; got {catchup!r}") from None
    _check_numbers(retries, retry_delay, timeout)
    t = _now(now)
    actor = actor or ws.settings.user
    row = ScheduleRow(
        name=name, revision=0, notebook=_relative_to_root(resolve_notebook(notebook, ws), ws),
        cron=check_cron(cron) if cron else None, tz=check_tz(tz), watch=watch or None,
        parameters=json.dumps(check_parameters(parameters or {}), sort_keys=True),
        retries=int(retries), retry_delay_s=float(retry_delay),
        timeout_s=float(timeout) if timeout else None, catchup=str(catchup), on_failure=on_failure,
        kernel=kernel, cwd=cwd, paused=paused, deleted=False, created_by=actor, created_at=t,
        changed_by=actor, changed_at=t)
    repo = PipelineRepository(ws.catalog)
    baseline = dataset_fingerprint(ws.settings.home.resolve().parent, watch) if watch else None

    def write(con: duckdb.DuckDBPyConnection) -> ScheduleRow:
        revision, live = repo.schedule_revision(con, name)
        if live and not replace_existing:
            raise ScheduleExists(f"a schedule {name!r} exists",
                                 hint="remove it first, or pass --replace")
        new = replace(row, revision=revision + 1)
        repo.insert_schedule(con, new)
        if baseline is not None:
            repo.insert_slot(con, SlotRow(name, f"dataset:{baseline}:r{revision + 1}", None,
                                          TriggerKind.DATASET, SlotStatus.BASELINE, t, actor,
                                          baseline))
        action = EventAction.SCHEDULE_UPDATE if live else EventAction.SCHEDULE_ADD
        record_change(con, repo, actor=actor, action=action, schedule_name=name,
                      detail=_public(new), now=t)
        return new

    return ws.catalog.transaction(write)


def _public(row: ScheduleRow) -> dict[str, Any]:
    keep = ("notebook", "cron", "tz", "watch", "parameters", "retries", "retry_delay_s",
            "timeout_s", "catchup", "on_failure", "kernel", "cwd", "paused")
    return {k: getattr(row, k) for k in keep}


def _change(name: str, ws: Workspace | None, action: EventAction, actor: str | None,
            now: datetime | None, **changes: Any) -> ScheduleRow:
    ws = _ws(ws)
    repo = PipelineRepository(ws.catalog)
    t = _now(now)
    actor = actor or ws.settings.user

    def write(con: duckdb.DuckDBPyConnection) -> ScheduleRow:
        current = repo.current_schedule(con, name)
        new = replace(current, revision=current.revision + 1, changed_by=actor, changed_at=t,
                      **changes)
        repo.insert_schedule(con, new)
        if action == EventAction.SCHEDULE_RESUME and new.cron:
            # Slots that fell while paused are not caught up: mark the latest one as seen.
            slot = latest_slot(new.cron, new.tz, t)
            repo.insert_slot(con, SlotRow(name, f"cron:{slot.isoformat()}:resume{new.revision}",
                                          slot, TriggerKind.CRON, SlotStatus.SKIPPED, t, actor,
                                          "paused"))
        record_change(con, repo, actor=actor, action=action, schedule_name=name,
                      detail={k: v for k, v in changes.items() if k != "deleted"} or None, now=t)
        return new

    return ws.catalog.transaction(write)


def pause_schedule(name: str, *, ws: Workspace | None = None, actor: str | None = None,
                   now: datetime | None = None) -> ScheduleRow:
    return _change(name, ws, EventAction.SCHEDULE_PAUSE, actor, now, paused=True)


def resume_schedule(name: str, *, ws: Workspace | None = None, actor: str | None = None,
                    now: datetime | None = None) -> ScheduleRow:
    return _change(name, ws, EventAction.SCHEDULE_RESUME, actor, now, paused=False)


def remove_schedule(name: str, *, ws: Workspace | None = None, actor: str | None = None,
                    now: datetime | None = None) -> ScheduleRow:
    return _change(name, ws, EventAction.SCHEDULE_REMOVE, actor, now, deleted=True)


def get_schedule(name: str, *, ws: Workspace | None = None) -> ScheduleRow:
    return PipelineRepository(_ws(ws).catalog).current_schedule(None, name)


def list_schedules(*, ws: Workspace | None = None) -> list[ScheduleRow]:
    return PipelineRepository(_ws(ws).catalog).schedules()


def trigger(schedule: str, reason: str, *, ws: Workspace | None = None,
            kind: str = TriggerKind.ALERT, actor: str | None = None,
            now: datetime | None = None) -> str:
    """Ask the scheduler to run ``schedule`` once at its next tick (e.g. from a monitoring alert).

    Returns the trigger id. The request is stored in the catalog, so it reaches a
    scheduler running in another process, or the next one to start.
    """
    ws = _ws(ws)
    repo = PipelineRepository(ws.catalog)
    t = _now(now)
    actor = actor or ws.settings.user
    trigger_id = secrets.token_hex(6)

    def write(con: duckdb.DuckDBPyConnection) -> None:
        repo.current_schedule(con, schedule)
        repo.insert_trigger(con, TriggerRow(trigger_id, schedule, str(kind), reason, t, actor))
        record_change(con, repo, actor=actor, action=EventAction.SCHEDULE_TRIGGER,
                      schedule_name=schedule, detail={"kind": str(kind), "reason": reason,
                                                      "trigger_id": trigger_id}, now=t)

    ws.catalog.transaction(write)
    return trigger_id


def run_schedule_now(name: str, *, ws: Workspace | None = None, progress: Any = True,
                     parameters: Mapping[str, Any] | None = None) -> PipelineRun:
    """Run a schedule's notebook now in this process, with its parameters, timeout and retries."""
    from nbops.pipelines.scheduler import run_with_retries

    ws = _ws(ws)
    sched = get_schedule(name, ws=ws)
    if sched.paused:
        raise NbopsError(f"schedule {name!r} is paused", hint=f"nbops schedule resume {name}")
    return run_with_retries(ws, sched, slot_key=f"manual:{secrets.token_hex(4)}",
                            progress=progress, extra_parameters=parameters)
