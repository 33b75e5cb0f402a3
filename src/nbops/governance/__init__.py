"""Governance: roles, one ``authorize``, policies, approvals, the audit chain and model cards.

Use :class:`Governance` on an open workspace (``Governance(ws, actor=...)``), or
the module functions, which take ``ws=`` or open the current workspace and act
as the current user.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nbops._opened import opened as _opened
from nbops.governance.errors import (
    PermissionDenied,
    PolicyViolation,
    RegistryConflict,
    RequestInvalidated,
)
from nbops.governance.identity import Action, Decision, Resource, Role, authorize
from nbops.governance.policy import MetricGate, Policy

if TYPE_CHECKING:
    import pandas as pd

    from nbops.governance.audit import VerifyResult
    from nbops.governance.service import Governance
    from nbops.workspace import Workspace

T = TypeVar("T")

__all__ = ["Action", "Decision", "Governance", "MetricGate", "PermissionDenied", "Policy",
           "PolicyViolation", "RegistryConflict", "RequestInvalidated", "Resource", "Role", "approve",
           "audit_log", "authorize", "export_audit", "grant", "pending", "record_validation", "reject",
           "request_promotion", "roles", "set_policy", "trace", "verify_audit"]


def __getattr__(name: str) -> Any:
    if name == "Governance":
        from nbops.governance.service import Governance

        return Governance
    if name == "trace":
        from nbops.governance.tracing import trace

        return trace
    raise AttributeError(f"module 'nbops.governance' has no attribute {name!r}")


def _call(ws: Workspace | None, actor: str | None, fn: Callable[[Governance], T]) -> T:
    from nbops.governance.service import Governance

    with _opened(ws) as w:
        return fn(Governance(w, actor))


def grant(principal: str, role: str | Role | None, model: str | None = None, *,
          ws: Workspace | None = None, actor: str | None = None) -> None:
    _call(ws, actor, lambda g: g.grant(principal, role, model))


def roles(model: str | None = None, *, ws: Workspace | None = None) -> pd.DataFrame:
    return _call(ws, None, lambda g: g.roles(model))


def set_policy(name: str, alias: str, policy: Policy | dict[str, Any] | None, *,
               ws: Workspace | None = None, actor: str | None = None) -> None:
    _call(ws, actor, lambda g: g.set_policy(name, alias, policy))


def record_validation(name: str, version: int | str, gate: str, passed: bool,
                      details: dict[str, Any] | None = None, *, ws: Workspace | None = None,
                      actor: str | None = None) -> None:
    _call(ws, actor, lambda g: g.record_validation(name, version, gate, passed, details))


def request_promotion(name: str, version: int | str, alias: str, reason: str = "", *,
                      ws: Workspace | None = None, actor: str | None = None) -> str:
    return _call(ws, actor, lambda g: g.request_promotion(name, version, alias, reason))


def approve(request_id: str, comment: str = "", *, ws: Workspace | None = None,
            actor: str | None = None) -> str:
    return _call(ws, actor, lambda g: g.approve(request_id, comment))


def reject(request_id: str, comment: str = "", *, ws: Workspace | None = None,
           actor: str | None = None) -> str:
    return _call(ws, actor, lambda g: g.reject(request_id, comment))


def pending(name: str | None = None, *, ws: Workspace | None = None) -> pd.DataFrame:
    return _call(ws, None, lambda g: g.pending(name))


def verify_audit(expected_head: str | None = None, *, ws: Workspace | None = None) -> VerifyResult:
    return _call(ws, None, lambda g: g.verify_audit(expected_head))


def export_audit(path: str | Path, *, ws: Workspace | None = None) -> VerifyResult:
    return _call(ws, None, lambda g: g.export_audit(path))


def audit_log(model: str | None = None, limit: int | None = None, *,
              ws: Workspace | None = None) -> pd.DataFrame:
    return _call(ws, None, lambda g: g.audit_log(model, limit))
