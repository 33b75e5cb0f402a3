"""Rows of the registry and governance tables (field order = column order, see m0002)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class VersionStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"
    DELETED = "deleted"


class AliasEventKind(StrEnum):
    PROMOTE = "promote"
    ROLLBACK = "rollback"


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    COMPLETED = "completed"
    INVALIDATED = "invalidated"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True)
class ModelRow:
    name: str
    description: str | None
    intended_use: str | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class ModelVersionRow:
    name: str
    version: int
    run_id: str | None
    artifact_name: str | None
    object_key: str
    fingerprint: str | None
    format: str
    description: str | None
    status: str
    created_by: str
    created_at: datetime
    audit_seq: int


@dataclass(frozen=True)
class AliasEventRow:
    name: str
    alias: str
    version: int | None
    previous_version: int | None
    kind: str
    reason: str | None
    actor: str
    ts: datetime
    audit_seq: int


@dataclass(frozen=True)
class ValidationRow:
    name: str
    version: int
    gate: str
    passed: bool
    details: str | None  # JSON
    recorded_by: str
    ts: datetime
    audit_seq: int


@dataclass(frozen=True)
class RoleGrantRow:
    principal: str
    scope: str  # "*" = the workspace, else a registered model's name
    role: str | None  # None = revoked
    granted_by: str
    ts: datetime
    audit_seq: int


@dataclass(frozen=True)
class PolicyRow:
    name: str  # a model, or "*" for every model
    alias: str
    spec: str | None  # JSON of governance.policy.Policy; None = removed
    set_by: str
    ts: datetime
    audit_seq: int


@dataclass(frozen=True)
class RequestRow:
    request_id: str
    name: str
    version: int
    alias: str
    reason: str | None
    requested_by: str
    ts: datetime
    policy_seq: int
    status: str
    status_reason: str | None
    audit_seq: int


@dataclass(frozen=True)
class ApprovalRow:
    request_id: str
    actor: str
    decision: str
    comment: str | None
    ts: datetime
    audit_seq: int


@dataclass(frozen=True)
class AuditRow:
    seq: int
    actor: str
    action: str
    target: str
    details: str  # canonical JSON, hashed as stored
    ts: datetime
    prev_hash: str
    hash: str
