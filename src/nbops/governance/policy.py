"""Promotion policies per model and alias, and the pure check of a promotion against one."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from nbops.errors import NbopsError
from nbops.governance.identity import Role

_OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
        "<": lambda a, b: a < b}


@dataclass(frozen=True)
class MetricGate:
    """A threshold on a metric of the version's run.

    ``min``/``max`` are absolute bounds. ``min_delta`` compares with the alias's
    current holder: the candidate must reach ``holder + min_delta`` (or, when
    ``higher_is_better`` is false, stay at or below ``holder - min_delta``).
    """

    metric: str
    min: float | None = None
    max: float | None = None
    min_delta: float | None = None
    higher_is_better: bool = True


class OnPass(StrEnum):
    """What ``nbops.gates.validate(..., promote_to=alias)`` may do with a version that passed."""

    PROMOTE = "promote"  # promote it at once (auto-deploy), still under every other rule here
    REQUEST = "request"  # file a promotion request for reviewers


@dataclass(frozen=True)
class Policy:
    """What a promotion to one alias requires.

    ``on_pass`` is the policy's consent to act on passing validation gates: ``"promote"``,
    ``"request"`` or None (default: validation never moves the alias).
    """

    promote_role: str = Role.DEPLOYER
    approver_role: str = Role.REVIEWER
    required_approvals: int = 0
    gates: tuple[str, ...] = ()
    metrics: tuple[MetricGate, ...] = ()
    separation_of_duties: bool = True
    approval_ttl_hours: float | None = None
    on_pass: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Policy:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Policy:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise NbopsError(f"unknown policy field(s) {sorted(unknown)}", hint=f"use {sorted(known)}")
        d = dict(d)
        for key in ("promote_role", "approver_role"):
            if key in d:
                d[key] = str(Role.parse(d[key]))
        d["gates"] = tuple(str(g) for g in d.get("gates", ()))
        d["metrics"] = tuple(m if isinstance(m, MetricGate) else MetricGate(**m)
                             for m in d.get("metrics", ()))
        n = d.get("required_approvals", 0)
        if not isinstance(n, int) or n < 0:
            raise NbopsError(f"required_approvals must be a whole number >= 0, got {n!r}")
        ttl = d.get("approval_ttl_hours")
        if ttl is not None and (not isinstance(ttl, int | float) or ttl <= 0):
            raise NbopsError(f"approval_ttl_hours must be a positive number, got {ttl!r}")
        if d.get("on_pass") is not None:
            try:
                d["on_pass"] = str(OnPass(d["on_pass"]))
            except ValueError:
                raise NbopsError(f"on_pass must be one of {[str(o) for o in OnPass]} or None, "
                                 f"got {d['on_pass']!r}") from None
        return cls(**d)


@dataclass
class PromotionFacts:
    """Everything a promotion check looks at, gathered inside the promoting transaction."""

    target: str
    version_status: str
    version_author: str
    validations: dict[str, dict[str, Any]]
    metrics: dict[str, float]
    holder_version: int | None = None
    holder_metrics: dict[str, float] = field(default_factory=dict)
    approvals: list[dict[str, Any]] = field(default_factory=list)  # + "approver_role", "requested_by"
    role_problem: str | None = None
    now: datetime | None = None


def unmet_requirements(policy: Policy, facts: PromotionFacts) -> list[str]:
    """Every requirement of ``policy`` the promotion does not meet (empty = allowed)."""
    out: list[str] = []
    if facts.role_problem:
        out.append(facts.role_problem)
    if facts.version_status != "active":
        out.append(f"{facts.target} is {facts.version_status}; only active versions can be promoted")
    for gate in policy.gates:
        result = facts.validations.get(gate)
        if result is None:
            out.append(f"validation gate {gate!r} has no recorded result")
        elif not result["passed"]:
            out.append(f"validation gate {gate!r} failed (recorded by {result['recorded_by']})")
    for mg in policy.metrics:
        out.extend(_metric_problems(mg, facts))
    if policy.required_approvals:
        valid, notes = valid_approvers(policy, facts)
        if len(valid) < policy.required_approvals:
            who = f" ({', '.join(sorted(valid))})" if valid else ""
            out.append(f"needs {policy.required_approvals} approval(s) from a {policy.approver_role} "
                       f"or above, has {len(valid)}{who}")
            out.extend(notes)
    return out


def _metric_problems(mg: MetricGate, facts: PromotionFacts) -> list[str]:
    value = facts.metrics.get(mg.metric)
    if value is None or math.isnan(value):
        return [f"metric {mg.metric!r} is not recorded on the version's run"]
    out = []
    if mg.min is not None and not _OPS[">="](value, mg.min):
        out.append(f"metric {mg.metric} = {value:.6g} is below the minimum {mg.min:g}")
    if mg.max is not None and not _OPS["<="](value, mg.max):
        out.append(f"metric {mg.metric} = {value:.6g} is above the maximum {mg.max:g}")
    if mg.min_delta is not None and facts.holder_version is not None:
        ref = facts.holder_metrics.get(mg.metric)
        if ref is None:
            return out  # the holder has no such metric: nothing to compare against
        if mg.higher_is_better and value < ref + mg.min_delta:
            out.append(f"metric {mg.metric} = {value:.6g} does not reach the current holder "
                       f"v{facts.holder_version}'s {ref:.6g} {mg.min_delta:+g}")
        if not mg.higher_is_better and value > ref - mg.min_delta:
            out.append(f"metric {mg.metric} = {value:.6g} is not at or below the current holder "
                       f"v{facts.holder_version}'s {ref:.6g} {-mg.min_delta:+g}")
    return out


def valid_approvers(policy: Policy, facts: PromotionFacts) -> tuple[set[str], list[str]]:
    """Approvers that count, and one note per approval that does not."""
    valid: set[str] = set()
    notes: list[str] = []
    for a in facts.approvals:
        who = a["actor"]
        why = None
        if policy.separation_of_duties and who == facts.version_author:
            why = f"{who} registered the version (separation of duties)"
        elif policy.separation_of_duties and who == a.get("requested_by"):
            why = f"{who} requested the promotion (separation of duties)"
        elif a.get("approver_role") is None or Role(a["approver_role"]).rank < Role(policy.approver_role).rank:
            why = f"{who} is not a {policy.approver_role}"
        elif policy.approval_ttl_hours and facts.now is not None and \
                a["ts"] < facts.now - timedelta(hours=policy.approval_ttl_hours):
            why = f"{who}'s approval expired (older than {policy.approval_ttl_hours:g} h)"
        if why:
            notes.append(f"approval by {who} does not count: {why}")
        else:
            valid.add(who)
    return valid, notes
