"""Who may do what: roles, actions, and the one ``authorize`` that decides every state change.

The actor comes from the edge (``NBOPS_USER`` or the OS user in kernels and the
CLI; Jupyter's user in the server; an API key in the model server). The core
never guesses it: services take it explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from nbops.errors import NbopsError

WORKSPACE = "*"


class Role(StrEnum):
    VIEWER = "viewer"
    CONTRIBUTOR = "contributor"
    REVIEWER = "reviewer"
    DEPLOYER = "deployer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls(str(text).lower())
        except ValueError:
            raise NbopsError(f"unknown role {text!r}",
                             hint=f"use one of {', '.join(r.value for r in cls)}") from None


_ORDER = [Role.VIEWER, Role.CONTRIBUTOR, Role.REVIEWER, Role.DEPLOYER, Role.ADMIN]


class Action(StrEnum):
    REGISTER = "register"
    SET_INTENDED_USE = "set_intended_use"
    RECORD_VALIDATION = "record_validation"
    REQUEST_PROMOTION = "request_promotion"
    APPROVE = "approve"
    REJECT = "reject"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    ARCHIVE = "archive"
    DELETE = "delete"
    GRANT_ROLE = "grant_role"
    SET_POLICY = "set_policy"
    CHANGE_SCHEDULE = "change_schedule"
    MANAGE_ALERTS = "manage_alerts"
    ACK_ALERT = "ack_alert"
    CHANGE_EXPERIMENT = "change_experiment"
    START_EXPERIMENT = "start_experiment"
    STOP_EXPERIMENT = "stop_experiment"
    CONCLUDE_EXPERIMENT = "conclude_experiment"
    MANAGE_API_KEYS = "manage_api_keys"


# Actions whose role comes from the alias's policy are resolved in ``required_role``.
_REQUIRED: dict[Action, Role] = {
    Action.REGISTER: Role.CONTRIBUTOR,
    Action.SET_INTENDED_USE: Role.CONTRIBUTOR,
    Action.RECORD_VALIDATION: Role.CONTRIBUTOR,
    Action.REQUEST_PROMOTION: Role.CONTRIBUTOR,
    Action.ARCHIVE: Role.DEPLOYER,
    Action.DELETE: Role.ADMIN,
    Action.GRANT_ROLE: Role.ADMIN,
    Action.SET_POLICY: Role.ADMIN,
    Action.CHANGE_SCHEDULE: Role.CONTRIBUTOR,
    Action.MANAGE_ALERTS: Role.CONTRIBUTOR,
    Action.ACK_ALERT: Role.CONTRIBUTOR,
    # Creating or reweighting a draft changes nothing users see; starting routes traffic.
    Action.CHANGE_EXPERIMENT: Role.CONTRIBUTOR,
    Action.START_EXPERIMENT: Role.DEPLOYER,
    Action.STOP_EXPERIMENT: Role.CONTRIBUTOR,  # stopping is always the safe direction
    Action.CONCLUDE_EXPERIMENT: Role.DEPLOYER,
    # A key acts as its user: creating one for someone else is granting access.
    Action.MANAGE_API_KEYS: Role.ADMIN,
}


@dataclass(frozen=True)
class Resource:
    """What an action touches: a model (None = the workspace) and maybe an alias."""

    model: str | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.model is None or self.model == WORKSPACE:
            return "the workspace"
        return f"{self.model}@{self.alias}" if self.alias else self.model


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    role: Role | None
    required: Role


def effective_role(actor: str, grants: Iterable[Mapping[str, Any]], model: str | None,
                   creator: str | None = None) -> Role | None:
    """The highest of the actor's workspace role and role on ``model``.

    ``creator`` is given only while no role was ever granted: the workspace's
    creator (its first user) is then admin.
    """
    if creator is not None and actor == creator:
        return Role.ADMIN
    best: Role | None = None
    for g in grants:
        if g["principal"] != actor or g["role"] is None:
            continue
        if g["scope"] == WORKSPACE or (model is not None and g["scope"] == model):
            role = Role(g["role"])
            if best is None or role.rank > best.rank:
                best = role
    return best


def required_role(action: Action, resource: Resource, policy: Any = None) -> Role:
    if action in (Action.PROMOTE, Action.ROLLBACK):
        return Role(policy.promote_role) if policy is not None else Role.DEPLOYER
    if action in (Action.APPROVE, Action.REJECT):
        return Role(policy.approver_role) if policy is not None else Role.REVIEWER
    if action in (Action.GRANT_ROLE, Action.SET_POLICY) and resource.model in (None, WORKSPACE):
        return Role.ADMIN
    return _REQUIRED[action]


def authorize(actor: str, action: Action, resource: Resource, *,
              grants: Iterable[Mapping[str, Any]], creator: str | None = None,
              policy: Any = None) -> Decision:
    """Decide whether ``actor`` may do ``action`` on ``resource``; every state change asks here."""
    need = required_role(action, resource, policy)
    scope_model = None if resource.model == WORKSPACE else resource.model
    have = effective_role(actor, grants, scope_model, creator)
    if have is not None and have.rank >= need.rank:
        return Decision(True, f"{actor} is {have}", have, need)
    held = f"{actor} is {have}" if have else f"{actor} has no role"
    return Decision(False, f"{action} on {resource} needs the {need} role; {held}", have, need)
