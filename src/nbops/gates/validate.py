"""``validate``: evaluate the rules, record every gate on the candidate version in one commit,
then, with the policy's consent, promote the candidate or file a promotion request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from nbops._opened import opened
from nbops.errors import NbopsError, NotFound
from nbops.gates.context import GateContext
from nbops.gates.data_rules import check
from nbops.gates.report import GateOutcome, GatesFailed, ValidationResult
from nbops.gates.rules import Rule

if TYPE_CHECKING:
    from nbops.governance.service import Governance
    from nbops.registry.service import ModelVersion, Registry
    from nbops.workspace import Workspace


def validate(candidate: str | ModelVersion, data: Any, *, rules: Sequence[Any],
             against: str | None = None, promote_to: str | None = None,
             raise_on_failure: bool = True, trust: bool = False,
             ws: Workspace | None = None, actor: str | None = None) -> ValidationResult:
    """Validate a registered model version and record the result on it.

    Parameters
    ----------
    candidate : a registered version, ``"churn@v5"`` (any registry reference) or the
        :class:`~nbops.registry.ModelVersion` that ``register`` returned. Results are recorded
        on a version, so an unregistered object is refused: register it first.
    data : ``(X, y)`` (X a DataFrame); ``X`` alone when every rule is a data check.
    rules : gate rules (``metric``, ``slices``, ``schema``, ``nulls``, ``drift``, ``check``, or a
        plain callable ``fn(ctx)``); each rule's ``name`` is the gate name policies list.
    against : the reference holder, e.g. ``"churn@production"``; relative rules compare the
        candidate with the version it holds on the same data (they pass, noting it, while the
        alias has no holder).
    promote_to : an alias; if every gate passed, act as that alias's policy ``on_pass`` says
        (``"promote"``: promote now, ``"request"``: file a promotion request, None: nothing).
    raise_on_failure : raise :class:`GatesFailed` (after recording) when a gate failed.
    """
    checked = _check_rules(rules)
    X, y = _split_data(data, checked)
    if promote_to is not None:
        from nbops.governance.context import check_alias

        check_alias(promote_to)
    with opened(ws) as w:
        from nbops.governance.identity import Action, Resource
        from nbops.governance.service import Governance
        from nbops.registry.service import Registry

        reg = Registry(w, actor)
        mv = _candidate(reg, candidate)
        reg.require(None, Action.RECORD_VALIDATION, Resource(mv.name))  # before any work
        base = _baseline(reg, against, checked)
        ctx = GateContext(w, mv, _load(w, mv, trust), X, y, base, _load(w, base, trust) if base else None)
        result = ValidationResult(mv.name, mv.version, against, base.version if base else None,
                                  len(X), [_evaluate(rule, ctx) for rule in checked])
        gov = Governance(w, reg.actor)
        if promote_to:
            result.notes += _policy_notes(gov, mv.name, promote_to, result)
        extra = {"against": against, "baseline_version": result.baseline_version, "rows": len(X)}
        gov.record_validations(mv.name, mv.version,
                               {g.name: (g.passed, {**g.recorded(), **extra}) for g in result.gates})
        if promote_to and result.passed:
            _act_on_pass(reg, gov, result, promote_to)
    if raise_on_failure and not result.passed:
        raise GatesFailed(result)
    return result


def _check_rules(rules: Sequence[Any]) -> list[Rule]:
    if isinstance(rules, Rule) or not rules:
        raise NbopsError("rules must be a non-empty list of gate rules",
                         hint="e.g. rules=[gates.metric('accuracy', min=0.8), gates.schema()]")
    out = [r if isinstance(r, Rule) else check(r) if callable(r) else None for r in rules]
    bad = [r for r, o in zip(rules, out, strict=True) if o is None]
    if bad:
        raise NbopsError(f"not a gate rule: {bad[0]!r}", hint="use nbops.gates.metric(...), schema(), ...")
    names = [r.name for r in out if r is not None]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise NbopsError(f"two rules share the gate name(s) {dupes}", hint="pass name='...' to one")
    return [r for r in out if r is not None]


def _split_data(data: Any, rules: list[Rule]) -> tuple[pd.DataFrame, Any]:
    X, y = (data[0], data[1]) if isinstance(data, tuple | list) and len(data) == 2 else (data, None)
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(X)
    needing = [r.name for r in rules if r.needs_labels]
    if y is None and needing:
        raise NbopsError(f"gate(s) {needing} need labels", hint="pass data=(X, y)")
    if y is not None and len(y) != len(X):
        raise NbopsError(f"X has {len(X)} rows but y has {len(y)}")
    return X, y


def _candidate(reg: Registry, candidate: Any) -> ModelVersion:
    from nbops.registry.service import ModelVersion

    if isinstance(candidate, ModelVersion):
        return reg.resolve(candidate.ref)
    if isinstance(candidate, str):
        return reg.resolve(candidate)
    raise NbopsError(f"the candidate must be a registered version, got a {type(candidate).__name__}",
                     hint="register it first: mv = nbops.registry.register(model, 'name'); "
                          "then validate(mv, ...)")


def _baseline(reg: Registry, against: str | None, rules: list[Rule]) -> ModelVersion | None:
    if against is None:
        relative = [r.name for r in rules if r.needs_baseline]
        if relative:
            raise NbopsError(f"gate(s) {relative} compare with the current holder but against= is missing",
                             hint="pass against='name@production'")
        return None
    from nbops.tracking.names import parse_ref

    try:
        return reg.resolve(against)
    except NotFound:
        if reg.models.model(None, parse_ref(against).name) is None:
            raise
        return None  # the model exists, the alias has no holder yet: nothing to compare with


def _load(ws: Workspace, mv: ModelVersion, trust: bool) -> Any:
    """The model object of an already-resolved version (``Registry.load`` would resolve again)."""
    from nbops.store.serializers import deserialize

    return deserialize(ws.store.get(mv.object_key), mv.format, trust=trust)


def _evaluate(rule: Rule, ctx: GateContext) -> GateOutcome:
    """A rule that cannot be evaluated fails, with the reason (it never passes by accident)."""
    try:
        return rule.evaluate(ctx)
    except Exception as exc:  # noqa: BLE001 - recorded as the gate's failure
        msg = exc.message if isinstance(exc, NbopsError) else str(exc)
        return GateOutcome(rule.name, rule.kind, False,
                           f"could not be evaluated: {type(exc).__name__}: {msg}",
                           {"error": type(exc).__name__, "message": msg})


def _policy_notes(gov: Governance, name: str, alias: str, result: ValidationResult) -> list[str]:
    evaluated = {g.name for g in result.gates}
    required = gov.policy(name, alias).gates
    return [f"the policy of {name}@{alias} also requires gate {g!r}, not evaluated here"
            for g in required if g not in evaluated]


def _act_on_pass(reg: Registry, gov: Governance, result: ValidationResult, alias: str) -> None:
    from nbops.governance.policy import OnPass

    name, v = result.name, result.version
    on_pass = gov.policy(name, alias).on_pass
    if on_pass is None:
        result.promotion = (f"not promoted to {alias}: the policy of {name}@{alias} does not "
                            "consent (its on_pass is not set)")
        return
    reason = f"validation gates passed: {', '.join(g.name for g in result.gates)}"
    if on_pass == OnPass.REQUEST:
        result.request_id = gov.request_promotion(name, v, alias, reason)
        result.promotion = f"promotion of {name} v{v} to {alias} requested (request {result.request_id})"
        return
    try:
        holder = reg.resolve(f"{name}@{alias}").version
    except NotFound:
        holder = None
    if holder == v:
        result.promotion = f"{name}@{alias} already is v{v}"
        return
    reg.promote(name, v, alias, reason)
    result.promotion = f"promoted {name} v{v} to {alias} (policy on_pass=promote)"
