"""What the registry and governance services share: the actor, the repositories, and
``change`` — one transaction holding a state change and its audit entry."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb

from nbops.catalog.audit import AuditRepository
from nbops.catalog.core import Catalog
from nbops.catalog.governance import GovernanceRepository
from nbops.catalog.registry import ModelRepository
from nbops.config import current_user
from nbops.errors import InvalidName, NotFound
from nbops.governance import audit
from nbops.governance.errors import PermissionDenied
from nbops.governance.identity import Action, Decision, Resource, authorize
from nbops.governance.policy import Policy
from nbops.tracking.names import check_artifact_name

if TYPE_CHECKING:
    from nbops.workspace import Workspace

Con = duckdb.DuckDBPyConnection
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")


def check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not _ALIAS.match(alias) or alias == "latest" or \
            re.fullmatch(r"v\d+", alias):
        raise InvalidName(f"invalid alias {alias!r}",
                          hint="start with a letter; letters, digits, '_' and '-'; not 'latest' or vN")
    return alias


def check_model_name(name: str) -> str:
    return check_artifact_name(name)


def current_grants(gov: GovernanceRepository, con: Con | None) -> tuple[list[dict[str, Any]], str | None]:
    """Current role grants, and the workspace creator while no role was ever granted."""
    latest = gov.latest_grants(con)
    creator = None if latest else gov.workspace_creator(con)
    return [g for g in latest if g["role"] is not None], creator


def authorize_and_audit(catalog: Catalog, con: Con, *, actor: str, action: Action, event: str,
                        target: str, details: dict[str, Any]) -> None:
    """For capabilities outside the registry (schedules, experiments): authorize ``actor`` and
    append the audit entry inside the caller's transaction, so both commit or neither does."""
    grants, creator = current_grants(GovernanceRepository(catalog), con)
    decision = authorize(actor, action, Resource(), grants=grants, creator=creator)
    if not decision.allowed:
        raise PermissionDenied(decision.reason, actor=actor, action=str(action),
                               hint="an admin can grant roles with `nbops roles grant`")
    repo = AuditRepository(catalog)
    head_seq, head_hash = repo.head(con)
    audit.append(repo, con, seq=head_seq + 1, prev_hash=head_hash, actor=actor, action=event,
                 target=target, details=details)


@dataclass
class Change:
    """One audited state change: what ``fn`` did, and what the caller gets back."""

    action: Action
    target: str
    details: dict[str, Any] = field(default_factory=dict)
    result: Any = None


class Governed:
    """Base of :class:`Registry` and :class:`Governance`: one workspace, one actor."""

    def __init__(self, ws: Workspace, actor: str | None = None) -> None:
        self.ws = ws
        self.actor = actor or current_user()
        self.models = ModelRepository(ws.catalog)
        self.gov = GovernanceRepository(ws.catalog)
        self.audit_repo = AuditRepository(ws.catalog)

    def change(self, fn: Callable[[Con, int], Change]) -> Any:
        """Run ``fn(con, seq)`` and append its audit entry ``seq`` in the same commit.

        ``fn`` does its checks inside the transaction: every audited change UPDATEs
        the audit head, so a concurrent change makes this commit conflict and the
        retry runs ``fn`` again on the new state.
        """
        def tx(con: Con) -> Any:
            head_seq, head_hash = self.audit_repo.head(con)
            ch = fn(con, head_seq + 1)
            audit.append(self.audit_repo, con, seq=head_seq + 1, prev_hash=head_hash,
                         actor=self.actor, action=ch.action, target=ch.target, details=ch.details)
            return ch.result

        return self.ws.catalog.transaction(tx)

    # -- authorization ----------------------------------------------------
    def grants(self, con: Con | None) -> tuple[list[dict[str, Any]], str | None]:
        return current_grants(self.gov, con)

    def decide(self, con: Con | None, action: Action, resource: Resource,
               policy: Policy | None = None, actor: str | None = None) -> Decision:
        grants, creator = self.grants(con)
        return authorize(actor or self.actor, action, resource, grants=grants, creator=creator,
                         policy=policy)

    def require(self, con: Con | None, action: Action, resource: Resource,
                policy: Policy | None = None) -> Decision:
        d = self.decide(con, action, resource, policy)
        if not d.allowed:
            raise PermissionDenied(d.reason, actor=self.actor, action=str(action),
                                   hint="an admin can grant roles with `nbops roles grant`")
        return d

    # -- shared lookups ---------------------------------------------------
    def policy_for(self, con: Con | None, name: str, alias: str) -> tuple[Policy, int]:
        """The effective policy for (model, alias) and the audit seq that set it (0 = default)."""
        row = self.gov.policy(con, name, alias)
        if row is None:
            return Policy(), 0
        return Policy.from_json(row["spec"]), int(row["audit_seq"])

    def require_model(self, con: Con | None, name: str) -> dict[str, Any]:
        m = self.models.model(con, check_model_name(name))
        if m is None:
            raise NotFound(f"no registered model {name!r}", hint="list them with `nbops models`")
        return m

    def version_row(self, con: Con | None, name: str, version: int | str) -> dict[str, Any]:
        """The version row for 3, "3", "v3", "latest" or an alias name."""
        text = str(version).strip()
        if text.isdigit() or re.fullmatch(r"v\d+", text):
            number = int(text.lstrip("v"))
        elif text == "latest":
            self.require_model(con, name)
            latest = self.models.latest_version(con, name)
            if latest is None:
                raise NotFound(f"{name} has no versions")
            number = latest
        else:
            event = self.models.alias_event(con, name, check_alias(text))
            if event is None or event["version"] is None:
                self.require_model(con, name)
                raise NotFound(f"{name} has no alias {text!r}", hint=f"see `nbops models show {name}`")
            number = int(event["version"])
        row = self.models.version(con, check_model_name(name), number)
        if row is None:
            self.require_model(con, name)
            raise NotFound(f"{name} has no version {number}", hint=f"see `nbops models show {name}`")
        return row

    def version_number(self, con: Con | None, name: str, version: int | str) -> int:
        return int(self.version_row(con, name, version)["version"])
