"""Rows of the catalog's tables, as frozen dataclasses (field order = column order)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum


class RunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class ArtifactKind(StrEnum):
    DATASET = "dataset"
    MODEL = "model"
    FILE = "file"
    OBJECT = "object"


class Role(StrEnum):
    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True)
class RunRow:
    run_id: str
    name: str | None
    kind: str
    status: str
    user_name: str
    started_at: datetime
    ended_at: datetime | None
    duration_ms: float | None
    code_hash: str | None
    env_hash: str | None
    notebook: str | None
    cell_id: str | None
    execution_count: int | None
    pipeline_run_id: str | None
    error: str | None
    tags: str | None  # JSON object


@dataclass(frozen=True)
class CodeRow:
    code_hash: str
    language: str
    source: str


@dataclass(frozen=True)
class EnvRow:
    env_hash: str
    python: str
    platform: str
    packages: str  # JSON object name -> version
    git_commit: str | None
    git_dirty: bool | None


@dataclass(frozen=True)
class ParamRow:
    run_id: str
    key: str
    value: str
    value_type: str


@dataclass(frozen=True)
class MetricRow:
    run_id: str
    key: str
    value: float
    step: int
    ts: datetime


@dataclass(frozen=True)
class ObjectRow:
    object_key: str
    fingerprint: str | None
    format: str
    size_bytes: int
    created_at: datetime


@dataclass(frozen=True)
class ArtifactRow:
    artifact_id: str
    run_id: str
    name: str
    kind: str
    role: str
    object_key: str | None
    fingerprint: str | None
    format: str | None
    py_type: str | None
    schema_json: str | None
    n_rows: int | None
    n_cols: int | None
    shape: str | None
    size_bytes: int | None
    metadata: str | None  # JSON object (hyperparameters for models, ...)
    skipped_reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class LineageRow:
    run_id: str
    src_kind: str
    src_ref: str
    dst_kind: str
    dst_ref: str
    relation: str
    created_at: datetime


@dataclass
class RunBatch:
    """Everything one run writes; saved in a single catalog commit."""

    run: RunRow
    code: list[CodeRow] = field(default_factory=list)
    envs: list[EnvRow] = field(default_factory=list)
    params: list[ParamRow] = field(default_factory=list)
    metrics: list[MetricRow] = field(default_factory=list)
    objects: list[ObjectRow] = field(default_factory=list)
    artifacts: list[ArtifactRow] = field(default_factory=list)
    lineage: list[LineageRow] = field(default_factory=list)


def columns(row_type: type) -> list[str]:
    return [f.name for f in fields(row_type)]
