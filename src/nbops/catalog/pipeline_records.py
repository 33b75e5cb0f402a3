"""Rows of the pipeline tables (field order = column order) and their statuses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class PipelineStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"
    KILLED = "killed"
    INTERRUPTED = "interrupted"


FINAL_STATUSES = frozenset(PipelineStatus) - {PipelineStatus.RUNNING}


class Catchup(StrEnum):
    """What a scheduler does with cron slots it missed while it was not running."""

    NONE = "none"  # skip them; run only a slot that is due now (within the grace period)
    LATEST = "latest"  # run the most recent missed slot once
    ALL = "all"  # run every missed slot, oldest first


class SlotStatus(StrEnum):
    CLAIMED = "claimed"
    SKIPPED = "skipped"
    BASELINE = "baseline"  # a watched dataset's fingerprint when the schedule was created


class TriggerKind(StrEnum):
    CRON = "cron"
    DATASET = "dataset"
    ALERT = "alert"
    MANUAL = "manual"


class EventAction(StrEnum):
    SCHEDULE_ADD = "schedule.add"
    SCHEDULE_UPDATE = "schedule.update"
    SCHEDULE_PAUSE = "schedule.pause"
    SCHEDULE_RESUME = "schedule.resume"
    SCHEDULE_REMOVE = "schedule.remove"
    SCHEDULE_TRIGGER = "schedule.trigger"
    SLOT_SKIPPED = "slot.skipped"
    RUN_RETRY = "run.retry"
    RUN_FAILED = "run.failed"
    RUN_INTERRUPTED = "run.interrupted"
    SCHEDULER_START = "scheduler.start"
    SCHEDULER_STOP = "scheduler.stop"


@dataclass(frozen=True)
class ScheduleRow:
    name: str
    revision: int
    notebook: str
    cron: str | None
    tz: str
    watch: str | None
    parameters: str  # JSON object
    retries: int
    retry_delay_s: float
    timeout_s: float | None
    catchup: str
    on_failure: str | None
    kernel: str | None
    cwd: str | None
    paused: bool
    deleted: bool
    created_by: str
    created_at: datetime
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class SlotRow:
    schedule_name: str
    slot_key: str
    slot_time: datetime | None
    trigger: str
    status: str
    claimed_at: datetime
    claimed_by: str
    detail: str | None


@dataclass(frozen=True)
class TriggerRow:
    trigger_id: str
    schedule_name: str
    kind: str
    reason: str | None
    requested_at: datetime
    requested_by: str


@dataclass(frozen=True)
class PipelineRunRow:
    pipeline_run_id: str
    notebook: str
    parameters: str  # JSON object
    status: str
    started_at: datetime
    ended_at: datetime | None
    duration_ms: float | None
    attempt: int
    schedule_name: str | None
    slot_key: str | None
    kernel: str | None
    cwd: str | None
    user_name: str
    host: str
    pid: int
    output_key: str | None
    error_cell_index: int | None
    error_name: str | None
    error_message: str | None
    error_traceback: str | None
    recorded_at: datetime


@dataclass(frozen=True)
class EventRow:
    event_id: str
    ts: datetime
    actor: str
    action: str
    schedule_name: str | None
    pipeline_run_id: str | None
    detail: str | None  # JSON object


@dataclass(frozen=True)
class LeaseRow:
    holder_id: str
    host: str
    pid: int
    user_name: str
    acquired_at: datetime
    heartbeat_at: datetime
    released_at: datetime | None
