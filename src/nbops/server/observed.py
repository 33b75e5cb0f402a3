"""Alerts and experiments for the REST API: monitoring's alert states and A/B reports.

Reading never changes anything: an experiment's report is computed with
``enforce=False`` (a breached guardrail is reported, not acted on; ``nbops ab check``
does that). Acknowledging an alert acts as the request's user through
``nbops.monitor.alerting.acknowledge``, whose governance check (``ack_alert``,
contributor) answers 403 to a viewer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from typing import Any

from nbops.server.jsonify import records, value
from nbops.server.service import WorkspaceHub

_RULE_FIELDS = ("name", "model", "metric", "aggregation", "comparison", "threshold", "window_s",
                "severity", "feature", "trigger_schedule", "description")


# -- alerts ---------------------------------------------------------------
def list_alerts(hub: WorkspaceHub) -> dict[str, Any]:
    """The current state of each rule's alert (firing first), the live rules, and counts."""
    from nbops.catalog.monitor import MonitorRepository

    repo = MonitorRepository(hub.workspace().catalog)
    rules = {r.name: r for r in repo.rules()}
    order = {"firing": 0, "acknowledged": 1, "resolved": 2}
    alerts = sorted(records(repo.current_alerts()), key=lambda a: order.get(a["state"], 3))
    for a in alerts:
        rule = rules.get(a["rule_name"])
        a["model"] = rule.model if rule else None
        a["metric"] = rule.metric if rule else None
        a["rule_deleted"] = rule is None
    counts = {s: sum(a["state"] == s for a in alerts) for s in order}
    return {
        "firing": counts["firing"], "acknowledged": counts["acknowledged"], "alerts": alerts,
        "rules": [{k: value(getattr(r, k)) for k in _RULE_FIELDS} for r in rules.values()],
    }


def alert_history(hub: WorkspaceHub, rule: str | None, limit: int) -> dict[str, Any]:
    """Every state change (fired, acknowledged, resolved), newest first."""
    from nbops.catalog.monitor import MonitorRepository

    return {"events": records(MonitorRepository(hub.workspace().catalog).events(rule, limit=limit))}


def acknowledge(hub: WorkspaceHub, rule: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
    from nbops.monitor.alerting import acknowledge as ack

    note = body.get("note") or ""
    ack(hub.workspace(), rule, note=str(note), actor=actor)
    return {"ok": True, "rule": rule, "state": "acknowledged"}


# -- experiments ----------------------------------------------------------
def list_experiments(hub: WorkspaceHub, status: str | None) -> dict[str, Any]:
    from nbops.catalog.abtest import ExperimentRepository

    rows = records(ExperimentRepository(hub.workspace().catalog).frame(status))
    for r in rows:
        r["variants"] = json.loads(r["variants"] or "{}")
        r["weights"] = json.loads(r["weights"] or "{}")
    return {"experiments": rows}


def experiment_report(hub: WorkspaceHub, name: str, alpha: float, min_units: int) -> dict[str, Any]:
    """The experiment's definition, pinned versions and report (decision, reasons, estimates)."""
    from nbops.abtest.api import get

    exp = get(name, ws=hub.workspace())
    rep = exp.report(alpha=alpha, min_units=min_units, enforce=False)
    row = exp.row
    return {
        "experiment": {
            "name": exp.name, "status": str(exp.status), "mode": str(exp.mode), "unit": row.unit,
            "variants": exp.variants, "weights": exp.weights, "pinned": exp.pinned(),
            "metric": json.loads(row.metric), "winner": row.winner, "reason": row.reason,
            "started_at": value(row.started_at), "changed_by": row.changed_by,
            "changed_at": value(row.changed_at)},
        "report": _report_json(rep),
    }


def _report_json(rep: Any) -> dict[str, Any]:
    return {
        "decision": str(rep.decision), "winner": rep.winner, "reasons": list(rep.reasons),
        "units": value(rep.units), "breaches": list(rep.breaches), "health": value(rep.health),
        "shadow_agreement": value(rep.shadow_agreement),
        "srm": None if rep.srm is None else {"p_value": value(rep.srm.p_value),
                                             "mismatch": bool(rep.srm.mismatch)},
        "comparisons": [_comparison_json(c) for c in rep.comparisons],
        "text": str(rep),
    }


def _comparison_json(c: Any) -> dict[str, Any]:
    t, s, b = c.test, c.sequential, c.bayes
    return {
        "variant": c.variant, "method": t.method, "n_control": t.n_control, "n_treatment": t.n_treatment,
        "control": value(t.mean_control), "treatment": value(t.mean_treatment),
        "lift": value(t.estimate), "ci": value(list(t.interval)), "relative_lift": value(t.relative),
        "relative_ci": value(list(t.relative_interval)) if t.relative_interval else None,
        "p_value": value(t.p_value), "adjusted_p": value(c.adjusted_p),
        "p_always_valid": value(s.p_value), "cs": value(list(s.interval)),
        "significant": bool(s.significant),
        "p_better": value(b.probability), "expected_loss": value(b.expected_loss),
        "cuped": None if c.cuped is None else _plain(c.cuped),
    }


def _plain(obj: Any) -> Any:
    return value(asdict(obj)) if is_dataclass(obj) and not isinstance(obj, type) else value(obj)
