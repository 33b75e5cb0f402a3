"""The model registry: versions with lineage, aliases moved under policy, archive/delete with guards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from nbops.catalog.governance_records import (
    AliasEventKind,
    AliasEventRow,
    ModelRow,
    ModelVersionRow,
    RequestStatus,
    VersionStatus,
)
from nbops.errors import NbopsError, NotFound
from nbops.governance.context import Change, Con, Governed, check_alias, check_model_name
from nbops.governance.errors import PolicyViolation, RegistryConflict
from nbops.governance.identity import Action, Resource, authorize, effective_role
from nbops.governance.policy import Policy, PromotionFacts, unmet_requirements, valid_approvers
from nbops.registry.guards import DEFAULT_GUARDS, Guard
from nbops.store.serializers import deserialize
from nbops.tracking.names import parse_ref


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ModelVersion:
    """A registered model version, as returned by :meth:`Registry.register` and ``resolve``."""

    name: str
    version: int
    status: str
    run_id: str | None
    artifact_name: str | None
    object_key: str
    fingerprint: str | None
    format: str
    description: str | None
    created_by: str
    created_at: datetime
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"


class Registry(Governed):
    """The model registry of one workspace, acting as ``actor``."""

    def __init__(self, ws: Any, actor: str | None = None, *,
                 guards: Sequence[Guard] = DEFAULT_GUARDS) -> None:
        super().__init__(ws, actor)
        self.guards = tuple(guards)

    # -- register -----------------------------------------------------------
    def register(self, model: Any, name: str, *, description: str | None = None,
                 intended_use: str | None = None, trust: bool = False) -> ModelVersion:
        """Register a model as the next version of ``name``.

        ``model`` is a reference to a tracked artifact (``RUN/clf``, ``clf@v3``,
        ``clf``) or a fitted object; an object already logged by a run keeps that
        run as its lineage, otherwise a ``register`` run stores it.
        """
        check_model_name(name)
        self.require(None, Action.REGISTER, Resource(name))  # fail before storing anything
        src = self._source(model, name, trust)

        def fn(con: Con, seq: int) -> Change:
            self.require(con, Action.REGISTER, Resource(name))
            if self.models.model(con, name) is None:
                self.models.add_model(con, ModelRow(name, description, intended_use, self.actor, _now()))
            v = self.models.next_version(con, name)
            row = ModelVersionRow(name, v, src.get("run_id"), src.get("name"), src["object_key"],
                                  src.get("fingerprint"), src["format"], description,
                                  VersionStatus.ACTIVE, self.actor, _now(), seq)
            self.models.add_version(con, row)
            return Change(Action.REGISTER, f"model:{name}@v{v}",
                          {"model": name, "version": v, "run_id": row.run_id,
                           "artifact": row.artifact_name, "fingerprint": row.fingerprint}, row)

        row = self.change(fn)
        return self._version_record(row.__dict__)

    def _source(self, model: Any, name: str, trust: bool) -> dict[str, Any]:
        if isinstance(model, str):
            row = self.ws.artifact(model)
        elif isinstance(model, dict) and "object_key" in model:
            row = model
        else:
            from nbops.tracking.fingerprint import fingerprint

            fp = fingerprint(model)
            found = self.models.producing_artifact(fp) if fp else None
            if found is None:
                with self.ws.run(name=f"register {name}", kind="register") as run:
                    found = dict(run.log_model(model, name, trust=trust).__dict__)
            row = found
        if not row.get("object_key"):
            raise NbopsError(f"the model was not stored: {row.get('skipped_reason') or 'no object'}",
                             hint="register a model that nbops can serialize (trust=True for joblib)")
        return dict(row)

    def set_intended_use(self, name: str, text: str) -> None:
        def fn(con: Con, seq: int) -> Change:
            self.require_model(con, name)
            self.require(con, Action.SET_INTENDED_USE, Resource(name))
            self.models.set_intended_use(con, name, text)
            return Change(Action.SET_INTENDED_USE, f"model:{name}", {"model": name, "text": text})

        self.change(fn)

    # -- promote and rollback -------------------------------------------------
    def promote(self, name: str, version: int | str, alias: str, reason: str = "") -> ModelVersion:
        """Point ``alias`` at a version; refuses with every unmet requirement of the policy."""
        check_alias(alias)

        def fn(con: Con, seq: int) -> Change:
            row = self.version_row(con, name, version)
            v = int(row["version"])
            policy, policy_seq = self.policy_for(con, name, alias)
            facts, request_id = self._facts(con, row, alias, policy, policy_seq)
            problems = unmet_requirements(policy, facts)
            if problems:
                raise PolicyViolation(f"{name} v{v} to {alias!r}", problems, actor=self.actor,
                                      action=str(Action.PROMOTE))
            if facts.holder_version == v:
                raise RegistryConflict(f"{name}@{alias} already is v{v}")
            self.models.add_alias_event(con, AliasEventRow(name, alias, v, facts.holder_version,
                                                           AliasEventKind.PROMOTE, reason, self.actor,
                                                           _now(), seq))
            if request_id:
                self.gov.set_request_status(con, request_id, RequestStatus.COMPLETED, f"promoted (seq {seq})")
            approvers = sorted(valid_approvers(policy, facts)[0]) if policy.required_approvals else []
            return Change(Action.PROMOTE, f"model:{name}@{alias}",
                          {"model": name, "alias": alias, "version": v, "previous": facts.holder_version,
                           "reason": reason, "request": request_id, "approvers": approvers,
                           "policy_seq": policy_seq}, row)

        return self._moved(self.change(fn))

    def _moved(self, row: dict[str, Any]) -> ModelVersion:
        from nbops import _aliases

        _aliases.moved()
        return self._version_record(row)

    def _facts(self, con: Con, row: dict[str, Any], alias: str, policy: Policy,
               policy_seq: int) -> tuple[PromotionFacts, str | None]:
        name, v = row["name"], int(row["version"])
        grants, creator = self.grants(con)
        decision = authorize(self.actor, Action.PROMOTE, Resource(name, alias), grants=grants,
                             creator=creator, policy=policy)
        holder = self.models.alias_event(con, name, alias)
        holder_v = int(holder["version"]) if holder and holder["version"] is not None else None
        holder_row = self.models.version(con, name, holder_v) if holder_v else None
        facts = PromotionFacts(
            target=f"{name} v{v}", version_status=row["status"], version_author=row["created_by"],
            validations=self.models.validations(con, name, v),
            metrics=self.models.run_metrics(con, row["run_id"]), holder_version=holder_v,
            holder_metrics=self.models.run_metrics(con, holder_row["run_id"]) if holder_row else {},
            role_problem=None if decision.allowed else decision.reason, now=_now())
        best: tuple[int, str | None, list[dict[str, Any]]] = (-1, None, [])
        for req in self.gov.open_requests(con, name, v, alias):
            if int(req["policy_seq"]) != policy_seq:
                continue  # made under another policy: does not count
            approvals = [dict(a, requested_by=req["requested_by"],
                              approver_role=effective_role(a["actor"], grants, name))
                         for a in self.gov.approvals(con, req["request_id"]) if a["decision"] == "approve"]
            n = len(valid_approvers(policy, PromotionFacts(**{**facts.__dict__, "approvals": approvals}))[0])
            if n > best[0]:
                best = (n, str(req["request_id"]), approvals)
        facts.approvals = best[2]
        return facts, best[1]

    def rollback(self, name: str, alias: str, reason: str) -> ModelVersion:
        """Move ``alias`` back to the version it pointed at before the current one."""
        check_alias(alias)
        if not reason or not reason.strip():
            raise NbopsError("a rollback needs a reason", hint="pass reason='...' (or --reason)")

        def fn(con: Con, seq: int) -> Change:
            self.require_model(con, name)
            policy, _ = self.policy_for(con, name, alias)
            self.require(con, Action.ROLLBACK, Resource(name, alias), policy)
            current, target = _rollback_target(self.models.alias_events(con, name, alias))
            if current is None:
                raise NotFound(f"{name} has no alias {alias!r}")
            if target is None:
                raise RegistryConflict(f"{name}@{alias} has no previous holder to roll back to")
            row = self.models.version(con, name, target)
            if row is None or row["status"] != VersionStatus.ACTIVE:
                raise RegistryConflict(f"the previous holder {name} v{target} is "
                                       f"{row['status'] if row else 'gone'}; promote a version instead")
            self.models.add_alias_event(con, AliasEventRow(name, alias, target, current,
                                                           AliasEventKind.ROLLBACK, reason, self.actor,
                                                           _now(), seq))
            return Change(Action.ROLLBACK, f"model:{name}@{alias}",
                          {"model": name, "alias": alias, "version": target, "previous": current,
                           "reason": reason}, row)

        return self._moved(self.change(fn))

    # -- archive and delete -------------------------------------------------
    def archive(self, name: str, version: int | str, reason: str = "") -> None:
        self._retire(name, version, VersionStatus.ARCHIVED, Action.ARCHIVE, reason)

    def delete(self, name: str, version: int | str, reason: str = "") -> None:
        """Mark a version deleted (its row and stored bytes stay for lineage and audit)."""
        self._retire(name, version, VersionStatus.DELETED, Action.DELETE, reason)

    def _retire(self, name: str, version: int | str, status: VersionStatus, action: Action,
                reason: str) -> None:
        def fn(con: Con, seq: int) -> Change:
            v = self.version_number(con, name, version)
            self.require(con, action, Resource(name))
            refusals = [r for g in self.guards if (r := g(con, self.models, name, v))]
            if refusals:
                raise RegistryConflict(f"cannot {action} {name} v{v}: {'; '.join(refusals)}")
            self.models.set_status(con, name, v, status)
            dropped = [r["request_id"] for r in self.gov.open_requests(con, name, v)]
            for rid in dropped:
                self.gov.set_request_status(con, rid, RequestStatus.INVALIDATED, f"the version was {status}")
            return Change(action, f"model:{name}@v{v}", {"model": name, "version": v, "reason": reason,
                                                          "invalidated_requests": dropped})

        self.change(fn)

    # -- reads --------------------------------------------------------------
    def models_frame(self) -> pd.DataFrame:
        return self.models.models_frame()

    def versions(self, name: str) -> pd.DataFrame:
        self.require_model(None, name)
        return self.models.versions_frame(name)

    def history(self, name: str, alias: str | None = None) -> pd.DataFrame:
        """Every alias move of ``name`` (promotions and rollbacks), oldest first."""
        self.require_model(None, name)
        return self.models.alias_history(name, alias)

    def resolve(self, ref: str) -> ModelVersion:
        """``name@alias``, ``name@v3``, ``name@latest`` (or ``name``) to a registered version."""
        r = parse_ref(ref)
        if r.run_id:
            raise NbopsError(f"{ref!r} names a run's artifact, not a registered model",
                             hint="use NAME@ALIAS, NAME@vN or NAME@latest")
        tag: int | str = r.version if r.version is not None else (r.alias or "latest")
        row = self.version_row(None, r.name, tag)
        if row["status"] == VersionStatus.DELETED:
            raise NotFound(f"{r.name} v{row['version']} was deleted")
        return self._version_record(row)

    def load(self, ref: str, *, trust: bool = False) -> Any:
        """The model object of a registered version."""
        mv = self.resolve(ref)
        return deserialize(self.ws.store.get(mv.object_key), mv.format, trust=trust)

    def _version_record(self, row: dict[str, Any]) -> ModelVersion:
        keys = [f for f in ModelVersion.__dataclass_fields__ if f != "aliases"]
        aliases = tuple(self.models.aliases_of(None, row["name"], int(row["version"])))
        values = {k: row[k] for k in keys}
        values["status"] = str(values["status"])
        if hasattr(values["created_at"], "to_pydatetime"):
            values["created_at"] = values["created_at"].to_pydatetime()
        return ModelVersion(**values, aliases=aliases)


def _rollback_target(events: list[dict[str, Any]]) -> tuple[int | None, int | None]:
    """(current holder, the holder before it) from an alias's moves: promotions push, rollbacks pop."""
    stack: list[int] = []
    for e in events:
        if e["version"] is None:
            stack.clear()
        elif e["kind"] == AliasEventKind.ROLLBACK and len(stack) >= 2 and stack[-2] == e["version"]:
            stack.pop()
        else:
            stack.append(int(e["version"]))
    if not stack:
        return None, None
    return stack[-1], (stack[-2] if len(stack) >= 2 else None)
