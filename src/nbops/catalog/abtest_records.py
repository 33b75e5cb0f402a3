"""Rows of the A/B testing tables (field order = column order) and experiment statuses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ExperimentStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    STOPPED = "stopped"
    CONCLUDED = "concluded"


class Mode(StrEnum):
    AB = "ab"
    SHADOW = "shadow"
    CANARY = "canary"


class FileKind(StrEnum):
    EXPOSURES = "exposures"
    OUTCOMES = "outcomes"


@dataclass(frozen=True)
class ExperimentRow:
    name: str
    revision: int
    status: str
    mode: str
    salt: str
    unit: str
    variants: str  # JSON {variant: ref}
    weights: str  # JSON {variant: weight}
    metric: str  # JSON metric spec
    guardrails: str  # JSON list
    ramp: str | None  # JSON [[seconds after start, treatment weight], ...] (canary)
    winner: str | None
    reason: str | None
    started_at: datetime | None
    created_by: str
    created_at: datetime
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class VariantRow:
    experiment: str
    revision: int
    variant: str
    ref: str
    model_name: str
    model_version: int


@dataclass(frozen=True)
class FileRow:
    experiment: str
    kind: str
    path: str
    rows: int
    written_at: datetime
    written_by: str
