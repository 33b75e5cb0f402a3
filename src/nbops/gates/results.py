"""Reading recorded gate results back (``nbops gates show``, ``gates.results``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pandas as pd

from nbops._opened import opened

if TYPE_CHECKING:
    from nbops.workspace import Workspace

COLUMNS = ["version", "gate", "passed", "kind", "summary", "against", "recorded_by", "ts"]


def results(ref: str, *, history: bool = False, ws: Workspace | None = None) -> pd.DataFrame:
    """The gate results recorded on a registered version (``churn@v5``, ``churn@production``):
    the latest result of each gate, or with ``history=True`` every recorded one, oldest first."""
    from nbops.catalog.dashboards import DashboardRepository
    from nbops.registry.service import Registry

    with opened(ws) as w:
        mv = Registry(w).resolve(ref)
        if history:
            frame = DashboardRepository(w.catalog).validations_frame(mv.name)
            rows = frame[frame["version"] == mv.version].to_dict("records")
        else:
            rows = list(Registry(w).models.validations(None, mv.name, mv.version).values())
    return pd.DataFrame([_row(mv.version, r) for r in rows], columns=COLUMNS)


def _row(version: int, r: dict[str, Any]) -> dict[str, Any]:
    details = json.loads(r["details"]) if r.get("details") else {}
    return {"version": version, "gate": r["gate"], "passed": bool(r["passed"]),
            "kind": details.get("kind"), "summary": details.get("summary"),
            "against": details.get("against"), "recorded_by": r["recorded_by"], "ts": r["ts"]}
