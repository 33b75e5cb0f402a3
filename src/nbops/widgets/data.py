"""Load what the dashboards draw from a workspace: the catalog queries, no plotting.

The lineage graph and the model/pipeline histories are collected here into plain
frames and :class:`Node`/:class:`Edge` records that the pure figure functions take.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from nbops.catalog.dashboards import DashboardRepository
from nbops.errors import NbopsError, NotFound

if TYPE_CHECKING:
    from nbops.workspace import Workspace



def repo(ws: Workspace) -> DashboardRepository:
    return DashboardRepository(ws.catalog)


def metric_steps(ws: Workspace, run_ids: Sequence[str], metrics: Sequence[str] | None = None) -> pd.DataFrame:
    return repo(ws).metric_steps(run_ids, metrics)


# -- compare ------------------------------------------------------------------
def _val(x: Any) -> Any:
    return None if x is None or (isinstance(x, float) and pd.isna(x)) else x


def _final_metrics(details: dict[str, Any]) -> dict[str, float]:
    return {str(k): float(g["value"].iloc[-1]) for k, g in details["metrics"].groupby("key")}


def _summary(ws: Workspace, run_id: str, name: str) -> dict[str, Any]:
    """Per-column summary statistics of a stored dataset (mean/min/max or distinct count)."""
    try:
        value = ws.load(f"{run_id}/{name}")
    except NbopsError:
        return {}
    if not isinstance(value, pd.DataFrame):
        return {}
    out: dict[str, Any] = {}
    for col in value.columns:
        s = value[col]
        if pd.api.types.is_numeric_dtype(s):
            out[f"{name}.{col}"] = f"mean {s.mean():.4g} · min {s.min():.4g} · max {s.max():.4g}"
        else:
            out[f"{name}.{col}"] = f"{s.nunique()} distinct"
    return out


def _artifact_facts(ws: Workspace, details: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(data facts, model hyperparameters) of a run's artifacts, keyed 'role name.fact'."""
    import json

    data: dict[str, Any] = {}
    hyper: dict[str, Any] = {}
    run_id = str(details["run"]["run_id"])
    for a in details["artifacts"].to_dict("records"):
        tag = f"{a['role']} {a['name']}"
        if a["kind"] == "model":
            meta = json.loads(a["metadata"]) if _val(a.get("metadata")) else {}
            for k, v in (meta.get("hyperparameters") or meta).items():
                hyper[f"{a['name']}.{k}"] = v
        elif a["kind"] == "dataset":
            data[f"{tag} shape"] = f"{_val(a.get('n_rows'))} × {_val(a.get('n_cols'))}"
            data[f"{tag} schema"] = _val(a.get("schema_json"))
            data[f"{tag} version"] = _val(a.get("version"))
            data.update({f"{a['role']} {k}": v for k, v in _summary(ws, run_id, a["name"]).items()})
    return data, hyper


def compare_data(ws: Workspace, ref_a: str, ref_b: str) -> dict[str, Any]:
    """Everything ``show.compare`` draws for runs A and B."""
    da, db = ws.run_details(ref_a), ws.run_details(ref_b)
    ra, rb = da["run"], db["run"]
    code = difflib.unified_diff(str(_val(ra.get("code")) or "").splitlines(),
                                str(_val(rb.get("code")) or "").splitlines(), "A", "B", lineterm="", n=2)
    data_a, hyper_a = _artifact_facts(ws, da)
    data_b, hyper_b = _artifact_facts(ws, db)
    return {
        "labels": (f"A {ra['run_id'][:8]} {ra['name'] or ''}".strip(),
                   f"B {rb['run_id'][:8]} {rb['name'] or ''}".strip()),
        "code_diff": "\n".join(code),
        "params": ({p["key"]: p["value"] for p in da["params"].to_dict("records")},
                   {p["key"]: p["value"] for p in db["params"].to_dict("records")}),
        "metrics": (_final_metrics(da), _final_metrics(db)),
        "data": (data_a, data_b),
        "hyperparameters": (hyper_a, hyper_b),
    }


# -- model and pipeline ----------------------------------------------------------
def model_data(ws: Workspace, name: str) -> dict[str, pd.DataFrame]:
    from nbops.catalog.audit import AuditRepository
    from nbops.catalog.registry import ModelRepository

    models = ModelRepository(ws.catalog)
    if models.model(None, name) is None:
        raise NotFound(f"no registered model {name!r}", hint="list models with `nbops models`")
    r = repo(ws)
    return {"versions": models.versions_frame(name), "alias_events": models.alias_history(name),
            "validations": r.validations_frame(name), "approvals": r.approvals_frame(name),
            "requests": r.requests_frame(name),
            "audit": AuditRepository(ws.catalog).frame(model=name).sort_values("seq")}


def pipeline_data(ws: Workspace, schedule: str, *, n_next: int = 5, limit: int = 200,
                  now: datetime | None = None) -> dict[str, Any]:
    from nbops.catalog.pipelines import PipelineRepository
    from nbops.pipelines.cron import next_slot

    pipes = PipelineRepository(ws.catalog)
    row = pipes.current_schedule(None, schedule)
    runs = pipes.runs_frame(schedule_name=schedule, limit=limit).sort_values("started_at")
    upcoming: list[datetime] = []
    if row.cron and not row.paused:
        t = now or datetime.now(UTC)
        for _ in range(n_next):
            t = next_slot(row.cron, row.tz, t)
            upcoming.append(t)
    return {"schedule": row, "runs": runs.reset_index(drop=True), "next_runs": upcoming}
