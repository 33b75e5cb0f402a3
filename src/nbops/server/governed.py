"""Models, pipelines and the audit log for the REST API, and the governed actions.

Every action acts as the request's user and goes through the registry and
governance services, so their ``authorize`` decides and their errors
(PermissionDenied 403, PolicyViolation 403, RegistryConflict 409, NotFound 404)
reach the client unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from nbops.errors import NbopsError
from nbops.server.jsonify import records, value
from nbops.server.service import WorkspaceHub


def _registry(hub: WorkspaceHub, actor: str | None = None) -> Any:
    from nbops.registry import Registry

    return Registry(hub.workspace(), actor)


def _governance(hub: WorkspaceHub, actor: str | None = None) -> Any:
    from nbops.governance.service import Governance

    return Governance(hub.workspace(), actor)


def list_models(hub: WorkspaceHub) -> dict[str, Any]:
    return {"models": records(_registry(hub).models_frame())}


def model_details(hub: WorkspaceHub, name: str) -> dict[str, Any]:
    reg, gov = _registry(hub), _governance(hub)
    versions = records(reg.versions(name))
    for v in versions:
        v["aliases"] = list(v["aliases"]) if isinstance(v.get("aliases"), list) else \
            [a for a in str(v.get("aliases") or "").replace(",", " ").split() if a]
    aliases = {a: v["version"] for v in versions for a in v["aliases"]}
    return {
        "name": name, "versions": versions, "aliases": aliases,
        "history": records(reg.history(name)),
        "requests": records(gov.requests(name)),
        "policies": records(gov.policies(name)),
    }


def model_version(hub: WorkspaceHub, name: str, version: int) -> dict[str, Any]:
    reg = _registry(hub)
    mv = reg.resolve(f"{name}@v{version}")
    return {
        "version": {k: value(getattr(mv, k)) for k in mv.__dataclass_fields__},
        "approvals": records(reg.gov.approvals_for_version(name, version)),
    }


def model_card(hub: WorkspaceHub, ref: str) -> dict[str, Any]:
    from nbops.governance.cards import build_card

    card = build_card(_registry(hub), ref)
    sections = [{"heading": heading, "blocks": [
        {"table": {"head": list(b[0]), "rows": value([list(r) for r in b[1]])}} if isinstance(b, tuple)
        else {"text": b} for b in blocks]} for heading, blocks in card.sections]
    return {"title": card.title, "sections": sections, "markdown": card.markdown, "html": card.html}


def audit_log(hub: WorkspaceHub, model: str | None, limit: int) -> dict[str, Any]:
    return {"entries": records(_governance(hub).audit_log(model, limit))}


# -- pipelines ------------------------------------------------------------
def list_pipelines(hub: WorkspaceHub, limit: int) -> dict[str, Any]:
    from datetime import UTC, datetime

    from nbops.catalog.pipelines import PipelineRepository
    from nbops.pipelines.cron import next_slot

    repo = PipelineRepository(hub.workspace().catalog)
    now = datetime.now(UTC)
    schedules = []
    for s in repo.schedules():
        row = {k: value(getattr(s, k)) for k in s.__dataclass_fields__}
        row["parameters"] = json.loads(s.parameters or "{}")
        row["next_run"] = None if (s.paused or not s.cron) else next_slot(s.cron, s.tz, now).isoformat()
        schedules.append(row)
    runs = records(repo.runs_frame(limit=limit))
    return {"schedules": schedules, "runs": runs}


def output_notebook(hub: WorkspaceHub, pipeline_run_id: str) -> dict[str, Any]:
    from nbops.catalog.pipelines import PipelineRepository
    from nbops.errors import NotFound

    ws = hub.workspace()
    row = PipelineRepository(ws.catalog).pipeline_run(pipeline_run_id)
    if not row.output_key:
        raise NotFound(f"pipeline run {row.pipeline_run_id} has no output notebook",
                       hint="it may still be running, or it failed before writing one")
    return {"pipeline_run_id": row.pipeline_run_id, "notebook": json.loads(ws.store.get(row.output_key))}


# -- actions --------------------------------------------------------------
def _text(body: dict[str, Any], key: str, required: bool = False) -> str:
    v = body.get(key, "")
    if not isinstance(v, str | int) or (required and v in ("", None)):
        raise NbopsError(f"the request body needs {key!r}", hint=f'send JSON like {{"{key}": ...}}')
    return str(v)


def act(hub: WorkspaceHub, action: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """Do one governed action as ``actor``; the services authorize it and audit it."""
    if action == "promote":
        mv = _registry(hub, actor).promote(_text(body, "model", True), _text(body, "version", True),
                                           _text(body, "alias", True), _text(body, "reason"))
        return {"ok": True, "ref": mv.ref, "aliases": list(mv.aliases)}
    if action == "rollback":
        mv = _registry(hub, actor).rollback(_text(body, "model", True), _text(body, "alias", True),
                                            _text(body, "reason", True))
        return {"ok": True, "ref": mv.ref, "aliases": list(mv.aliases)}
    if action == "request":
        rid = _governance(hub, actor).request_promotion(
            _text(body, "model", True), _text(body, "version", True), _text(body, "alias", True),
            _text(body, "reason"))
        return {"ok": True, "request_id": rid}
    if action in ("approve", "reject"):
        gov = _governance(hub, actor)
        fn = gov.approve if action == "approve" else gov.reject
        status = fn(_text(body, "request_id", True), _text(body, "comment"))
        return {"ok": True, "status": value(status)}
    raise NbopsError(f"unknown action {action!r}", hint="use promote, rollback, request, approve or reject")


def run_schedule_now(hub: WorkspaceHub, name: str, actor: str) -> dict[str, Any]:
    """Ask the scheduler to run ``name`` at its next tick, if ``actor`` may change schedules."""
    from nbops.catalog.governance import GovernanceRepository
    from nbops.catalog.pipeline_records import TriggerKind
    from nbops.governance.context import current_grants
    from nbops.governance.errors import PermissionDenied
    from nbops.governance.identity import Action, Resource, authorize
    from nbops.pipelines.schedules import trigger

    ws = hub.workspace()
    grants, creator = current_grants(GovernanceRepository(ws.catalog), None)
    decision = authorize(actor, Action.CHANGE_SCHEDULE, Resource(), grants=grants, creator=creator)
    if not decision.allowed:
        raise PermissionDenied(decision.reason, actor=actor, action=str(Action.CHANGE_SCHEDULE),
                               hint="an admin can grant roles with `nbops roles grant`")
    tid = trigger(name, f"run now from JupyterLab by {actor}", ws=ws, kind=TriggerKind.MANUAL, actor=actor)
    return {"ok": True, "trigger_id": tid}
