"""Rows of the monitoring tables (field order = column order) and alert states."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True)
class AlertRuleRow:
    name: str
    revision: int
    model: str
    metric: str
    aggregation: str
    comparison: str
    threshold: float
    window_s: float
    min_samples: int
    severity: str
    channels: str  # JSON list of channel specs
    feature: str | None
    drift_method: str | None
    trigger_schedule: str | None
    cooldown_s: float
    description: str | None
    deleted: bool
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class AlertEventRow:
    event_id: str
    rule_name: str
    fire_id: str
    state: str
    value: float | None
    threshold: float | None
    n_samples: int | None
    severity: str | None
    message: str
    actor: str
    ts: datetime
    details: str | None


@dataclass(frozen=True)
class DeliveryRow:
    delivery_id: str
    fire_id: str
    rule_name: str
    state: str
    channel: str
    ok: bool
    attempts: int
    error: str | None
    ts: datetime


@dataclass(frozen=True)
class ReportRow:
    report_id: str
    model: str
    model_version: int | None
    window_start: datetime
    window_end: datetime
    section: str
    metric: str
    feature: str | None
    value: float | None
    details: str | None
    created_at: datetime
