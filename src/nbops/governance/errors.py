"""Errors of the registry and governance; all subclasses of NbopsError.

    NbopsError
    ├── PermissionDenied        the actor's role does not allow the action  (403)
    │   └── PolicyViolation     a promotion's unmet requirements, all listed (403)
    ├── RegistryConflict        the change contradicts the registry's state (409)
    │   └── RequestInvalidated  the request's version or policy changed since (409)
    └── NotFound                (nbops.errors) a model, version, alias or request
"""

from __future__ import annotations

from nbops.errors import NbopsError


class PermissionDenied(NbopsError):
    exit_code = 3
    http_status = 403

    def __init__(self, message: str, *, actor: str, action: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.actor = actor
        self.action = action


class PolicyViolation(PermissionDenied):
    """Carries every unmet requirement in ``violations`` (one string each)."""

    def __init__(self, target: str, violations: list[str], *, actor: str, action: str) -> None:
        self.target = target
        self.violations = list(violations)
        lines = "\n".join(f"  - {v}" for v in self.violations)
        super().__init__(f"cannot {action} {target}: {len(self.violations)} unmet requirement(s):\n{lines}",
                         actor=actor, action=action,
                         hint="see `nbops policy show` and `nbops request`")


class RegistryConflict(NbopsError):
    exit_code = 4
    http_status = 409


class RequestInvalidated(RegistryConflict):
    pass
