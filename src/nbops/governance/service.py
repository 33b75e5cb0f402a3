"""Roles, policies, validation results, promotion requests and approvals, and the audit log."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from nbops.catalog.governance_records import (
    ApprovalRow,
    Decision,
    PolicyRow,
    RequestRow,
    RequestStatus,
    RoleGrantRow,
    ValidationRow,
)
from nbops.errors import NbopsError, NotFound
from nbops.governance import audit
from nbops.governance.context import Change, Con, Governed, check_alias
from nbops.governance.errors import PermissionDenied, RegistryConflict, RequestInvalidated
from nbops.governance.identity import WORKSPACE, Action, Resource, Role
from nbops.governance.policy import Policy


def _now() -> datetime:
    return datetime.now(UTC)


class Governance(Governed):
    """Governance of one workspace, acting as ``actor``."""

    # -- roles ------------------------------------------------------------
    def roles(self, model: str | None = None) -> pd.DataFrame:
        rows = self.gov.current_roles(None)
        if model:
            rows = [r for r in rows if r["scope"] in (WORKSPACE, model)]
        if not rows and not self.gov.any_grant(None):
            creator = self.gov.workspace_creator(None)
            rows = [{"principal": creator, "scope": WORKSPACE, "role": str(Role.ADMIN),
                     "granted_by": "(first user of the workspace)", "ts": None}]
        return pd.DataFrame(rows, columns=["principal", "scope", "role", "granted_by", "ts"])

    def grant(self, principal: str, role: str | Role | None, model: str | None = None) -> None:
        """Give ``principal`` a role on the workspace or on one model (``role=None`` revokes)."""
        new = str(Role.parse(role)) if role not in (None, "none") else None
        scope = model or WORKSPACE
        if not principal or not principal.strip():
            raise NbopsError("a principal (user name) is required")

        def fn(con: Con, seq: int) -> Change:
            if model:
                self.require_model(con, model)
            self.require(con, Action.GRANT_ROLE, Resource(scope))
            details: dict[str, Any] = {"principal": principal, "scope": scope, "role": new}
            if not self.gov.any_grant(con):
                # The implicit first admin becomes an explicit grant, so it survives this one.
                creator = self.gov.workspace_creator(con) or self.actor
                self.gov.add_grant(con, RoleGrantRow(creator, WORKSPACE, str(Role.ADMIN),
                                                     "(first user)", _now(), seq))
                details["bootstrap_admin"] = creator
            self.gov.add_grant(con, RoleGrantRow(principal, scope, new, self.actor, _now(), seq))
            return Change(Action.GRANT_ROLE, f"role:{principal}@{scope}", details)

        self.change(fn)

    # -- policies ---------------------------------------------------------
    def policy(self, name: str, alias: str) -> Policy:
        return self.policy_for(None, name, check_alias(alias))[0]

    def policies(self, name: str | None = None) -> pd.DataFrame:
        return self.gov.policies_frame(name)

    def set_policy(self, name: str, alias: str, policy: Policy | dict[str, Any] | None) -> None:
        """Set (or with None remove) the policy of (model, alias); ``name="*"`` for every model.

        Open promotion requests it governs are invalidated in the same commit.
        """
        check_alias(alias)
        spec = None if policy is None else (
            policy if isinstance(policy, Policy) else Policy.from_dict(policy)).to_json()

        def fn(con: Con, seq: int) -> Change:
            if name != WORKSPACE:
                self.require_model(con, name)
            self.require(con, Action.SET_POLICY, Resource(name))
            self.gov.add_policy(con, PolicyRow(name, alias, spec, self.actor, _now(), seq))
            dropped = self._invalidate(con, None if name == WORKSPACE else name, None, alias,
                                       "the policy changed")
            return Change(Action.SET_POLICY, f"policy:{name}@{alias}",
                          {"model": name, "alias": alias, "spec": json.loads(spec) if spec else None,
                           "invalidated_requests": dropped})

        self.change(fn)

    def _invalidate(self, con: Con, name: str | None, version: int | None, alias: str | None,
                    why: str) -> list[str]:
        ids = [r["request_id"] for r in self.gov.open_requests(con, name, version, alias)]
        for rid in ids:
            self.gov.set_request_status(con, rid, RequestStatus.INVALIDATED, why)
        return ids

    # -- validation results -----------------------------------------------
    def record_validation(self, name: str, version: int | str, gate: str, passed: bool,
                          details: dict[str, Any] | None = None) -> None:
        """Record a gate's result for a version (pipelines call this; data checks too)."""
        self.record_validations(name, version, {gate: (passed, details)})

    def record_validations(self, name: str, version: int | str,
                           results: dict[str, tuple[bool, dict[str, Any] | None]]) -> int:
        """Record several gates' results for a version in one commit and one audit entry;
        returns the version number."""
        if not results:
            raise NbopsError("no gate results to record")

        def fn(con: Con, seq: int) -> Change:
            v = self.version_number(con, name, version)
            self.require(con, Action.RECORD_VALIDATION, Resource(name))
            for gate, (passed, details) in results.items():
                text = json.dumps(details or {}, sort_keys=True, default=str)
                self.models.add_validation(con, ValidationRow(name, v, gate, bool(passed), text,
                                                              self.actor, _now(), seq))
            info: dict[str, Any] = {"model": name, "version": v}
            if len(results) == 1:
                gate, (passed, _) = next(iter(results.items()))
                info.update(gate=gate, passed=bool(passed))
            else:
                info.update(gates={g: bool(p) for g, (p, _) in results.items()},
                            passed=all(bool(p) for p, _ in results.values()))
            return Change(Action.RECORD_VALIDATION, f"model:{name}@v{v}", info, v)

        return int(self.change(fn))

    # -- promotion requests -------------------------------------------------
    def request_promotion(self, name: str, version: int | str, alias: str, reason: str = "") -> str:
        """Ask for ``name`` v``version`` to become ``alias``; returns the request id."""
        check_alias(alias)
        rid = secrets.token_hex(4)

        def fn(con: Con, seq: int) -> Change:
            v = self.version_number(con, name, version)
            self.require(con, Action.REQUEST_PROMOTION, Resource(name, alias))
            row = self.models.version(con, name, v)
            if row is None or row["status"] != "active":
                raise RegistryConflict(f"{name} v{v} is not active", hint="register a new version")
            _, policy_seq = self.policy_for(con, name, alias)
            self.gov.add_request(con, RequestRow(rid, name, v, alias, reason, self.actor, _now(),
                                                 policy_seq, RequestStatus.PENDING, None, seq))
            return Change(Action.REQUEST_PROMOTION, f"request:{rid}",
                          {"model": name, "version": v, "alias": alias, "reason": reason}, rid)

        return str(self.change(fn))

    def pending(self, name: str | None = None) -> pd.DataFrame:
        frame = self.gov.requests_frame(name=name)
        return frame[frame["status"].isin([RequestStatus.PENDING, RequestStatus.APPROVED])].reset_index(drop=True)

    def requests(self, name: str | None = None, status: str | None = None) -> pd.DataFrame:
        return self.gov.requests_frame(status=status, name=name)

    def approve(self, request_id: str, comment: str = "") -> str:
        """Approve a request; returns its status afterwards (``approved`` once enough count)."""
        return self._decide_request(request_id, Decision.APPROVE, comment)

    def reject(self, request_id: str, comment: str = "") -> str:
        return self._decide_request(request_id, Decision.REJECT, comment)

    def _decide_request(self, request_id: str, decision: Decision, comment: str) -> str:
        def fn(con: Con, seq: int) -> Change:
            req = self.gov.request(con, request_id)
            if req is None:
                raise NotFound(f"no promotion request {request_id!r}", hint="see `nbops request list`")
            rid, name, alias = req["request_id"], req["name"], req["alias"]
            policy, policy_seq = self.policy_for(con, name, alias)
            action = Action.APPROVE if decision == Decision.APPROVE else Action.REJECT
            self.require(con, action, Resource(name, alias), policy)
            if req["status"] not in (RequestStatus.PENDING, RequestStatus.APPROVED):
                raise RegistryConflict(f"request {rid} is {req['status']}"
                                       + (f": {req['status_reason']}" if req["status_reason"] else ""))
            stale = self._staleness(con, req, policy_seq)
            if stale:
                self.gov.set_request_status(con, rid, RequestStatus.INVALIDATED, stale)
                return Change(Action.APPROVE if decision == Decision.APPROVE else Action.REJECT,
                              f"request:{rid}", {"model": name, "invalidated": stale}, ("stale", stale))
            self._check_separation(con, req, policy, decision)
            self.gov.add_approval(con, ApprovalRow(rid, self.actor, decision, comment, _now(), seq))
            status = self._status_after(con, req, policy, decision)
            self.gov.set_request_status(con, rid, status, None)
            return Change(action, f"request:{rid}", {"model": name, "version": int(req["version"]),
                          "alias": alias, "comment": comment, "status": status}, ("ok", status))

        kind, value = self.change(fn)
        if kind == "stale":
            raise RequestInvalidated(f"request {request_id} was invalidated: {value}",
                                     hint="request the promotion again")
        return str(value)

    def _staleness(self, con: Con, req: dict[str, Any], policy_seq: int) -> str | None:
        if int(req["policy_seq"]) != policy_seq:
            return "the policy changed since the request"
        row = self.models.version(con, req["name"], int(req["version"]))
        if row is None or row["status"] != "active":
            return f"the version is {row['status'] if row else 'gone'}"
        return None

    def _check_separation(self, con: Con, req: dict[str, Any], policy: Policy,
                          decision: Decision) -> None:
        if decision != Decision.APPROVE or not policy.separation_of_duties:
            return
        version = self.models.version(con, req["name"], int(req["version"]))
        author = version["created_by"] if version else None
        if self.actor in (author, req["requested_by"]):
            what = "registered the version" if self.actor == author else "requested the promotion"
            raise PermissionDenied(f"{self.actor} {what} and cannot approve it (separation of duties)",
                                   actor=self.actor, action=str(Action.APPROVE),
                                   hint="another reviewer must approve")

    def _status_after(self, con: Con, req: dict[str, Any], policy: Policy, decision: Decision) -> str:
        if decision == Decision.REJECT:
            return RequestStatus.REJECTED
        approvers = {a["actor"] for a in self.gov.approvals(con, req["request_id"])
                     if a["decision"] == Decision.APPROVE}
        approvers.add(self.actor)
        done = len(approvers) >= max(policy.required_approvals, 1)
        return RequestStatus.APPROVED if done else RequestStatus.PENDING

    # -- audit ------------------------------------------------------------
    def verify_audit(self, expected_head: str | None = None) -> audit.VerifyResult:
        return audit.verify(self.audit_repo, expected_head)

    def export_audit(self, path: str | Path) -> audit.VerifyResult:
        return audit.export(self.audit_repo, path)

    def audit_log(self, model: str | None = None, limit: int | None = None) -> pd.DataFrame:
        return self.audit_repo.frame(model=model, limit=limit)
