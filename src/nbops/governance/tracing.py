"""Prediction-level audit: a logged request traced to model version → run → data → code.

``nbops trace REQUEST_ID`` (and :func:`trace`) reads the monitoring logs for the
request, then the registry for the version that answered it and the aliases it
held at that moment (with who moved them and who approved), then the run that
produced the model: its code, environment and the data → cells lineage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from nbops.errors import NbopsError, NotFound

if TYPE_CHECKING:
    from nbops.registry.service import ModelVersion
    from nbops.workspace import Workspace

_LOG_COLUMNS = {"request_id", "ts", "model", "model_version", "latency_ms", "error", "prediction",
                "score", "date", "hour"}


@dataclass
class Trace:
    """Everything the catalog knows about one prediction, newest link first."""

    request_id: str
    prediction: dict[str, Any]
    features: dict[str, Any]
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    version: ModelVersion | None = None
    aliases_then: list[str] = field(default_factory=list)
    alias_moves: list[dict[str, Any]] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)
    run: dict[str, Any] | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    lineage: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        v = self.version
        return {"request_id": self.request_id, "prediction": self.prediction, "features": self.features,
                "outcomes": self.outcomes,
                "model_version": None if v is None else {"name": v.name, "version": v.version,
                                                         "run_id": v.run_id, "fingerprint": v.fingerprint,
                                                         "registered_by": v.created_by},
                "aliases_then": self.aliases_then, "alias_moves": self.alias_moves,
                "approvals": self.approvals, "run": self.run, "environment": self.environment,
                "lineage": self.lineage, "notes": self.notes}

    def __str__(self) -> str:
        p = self.prediction
        out = [f"request {self.request_id}",
               f"  at {p.get('ts')} · model {p.get('model')} v{_int(p.get('model_version'))} · "
               f"prediction {p.get('prediction')!r}" + _latency(p.get("latency_ms")),
               "  features: " + _features(self.features)]
        if p.get("error"):
            out.append(f"  error: {p['error']}")
        out += [f"  outcome {o['y_true']!r} logged {o['ts']}" for o in self.outcomes] or ["  outcome: none logged"]
        out += self._version_lines() + self._run_lines()
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)

    def _version_lines(self) -> list[str]:
        v = self.version
        if v is None:
            return []
        held = ", ".join(self.aliases_then) or "no alias"
        out = [f"model version {v.ref} (held {held} at prediction time) · registered by {v.created_by} "
               f"{v.created_at} · fingerprint {v.fingerprint}"]
        out += [f"  {m['alias']} → v{_int(m['version'])} by {m['actor']} at {m['ts']}"
                + (f": {m['reason']}" if m.get("reason") else "") for m in self.alias_moves]
        out += [f"  {a['decision']} by {a['actor']} ({a['alias']}, request {a['request_id']})"
                + (f": {a['comment']}" if a.get("comment") else "") for a in self.approvals]
        return out

    def _run_lines(self) -> list[str]:
        if self.run is None:
            return []
        r, env = self.run, self.environment
        where = " · ".join(str(x) for x in (r.get("notebook"), r.get("cell_id") and f"cell {r['cell_id']}")
                           if x)
        out = [f"trained by run {r['run_id']} {r.get('name') or ''} · {r.get('user_name')} · "
               f"{r.get('started_at')}" + (f" · {where}" if where else "")]
        if env.get("git_commit"):
            out.append(f"  git {env['git_commit']}" + (" (dirty)" if env.get("git_dirty") else ""))
        out += ["lineage:", *("  " + line for line in self.lineage.splitlines())]
        if r.get("code"):
            out += ["code:", *("  | " + line for line in str(r["code"]).splitlines())]
        return out


def _features(features: dict[str, Any], shown: int = 8) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in list(features.items())[:shown]) or "-"
    more = len(features) - shown
    return text + (f", … ({more} more; --json shows all)" if more > 0 else "")


def _int(x: Any) -> Any:
    return "?" if x is None or pd.isna(x) else int(x)


def _latency(ms: Any) -> str:
    return "" if ms is None or pd.isna(ms) else f" · {float(ms):.2f} ms"


def _plain(v: Any) -> Any:
    if isinstance(v, (pd.Timestamp, datetime)):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return None if isinstance(v, float) and pd.isna(v) else v


def trace(request_id: str, *, ws: Workspace | None = None) -> Trace:
    """Trace the logged prediction ``request_id`` (or a unique prefix of it)."""
    from nbops._opened import opened

    with opened(ws) as w:
        return _trace(w, request_id.strip())


def _trace(ws: Workspace, request_id: str) -> Trace:
    from nbops.catalog.monitor import MonitorRepository
    from nbops.monitor.files import LogFiles, any_files, scan_sql
    from nbops.monitor.logger import FEATURE_PREFIX

    if len(request_id) < 6:
        raise NbopsError("a request id needs at least 6 characters",
                         hint="copy it from the server's response or the prediction log")
    files, repo = LogFiles.for_settings(ws.settings), MonitorRepository(ws.catalog)
    rows = (repo.requests(scan_sql(files.glob("predictions", "*")), request_id)
            if any_files(files, "predictions", None) else [])
    if not rows:
        raise NotFound(f"no logged prediction with request id {request_id!r}",
                       hint="predictions are logged by `nbops serve` and nbops.monitor.log_predictions; "
                            "buffered rows reach the log within seconds")
    if len(rows) > 1 and rows[0]["request_id"] != request_id:
        raise NbopsError(f"request id prefix {request_id!r} is ambiguous", hint="give more characters")
    row = {k: _plain(v) for k, v in rows[0].items()}
    t = Trace(row["request_id"], {k: row[k] for k in row if k in _LOG_COLUMNS - {"date", "hour"}},
              {k.removeprefix(FEATURE_PREFIX): v for k, v in row.items() if k.startswith(FEATURE_PREFIX)})
    if any_files(files, "outcomes", None):
        t.outcomes = [{k: _plain(v) for k, v in o.items()}
                      for o in repo.outcomes_of(scan_sql(files.glob("outcomes", None)), t.request_id)]
    _add_version(ws, t)
    return t


def _add_version(ws: Workspace, t: Trace) -> None:
    from nbops.registry.service import Registry

    version = t.prediction.get("model_version")
    if version is None:
        t.notes.append(f"model {t.prediction.get('model')!r} was not a registered version when it "
                       "answered; nothing further is recorded")
        return
    reg = Registry(ws)
    t.version = reg.resolve(f"{t.prediction['model']}@v{int(version)}")
    moves = reg.models.alias_history(t.version.name)
    at = pd.Timestamp(t.prediction["ts"])
    before = moves[pd.to_datetime(moves["ts"], utc=True) <= at] if not moves.empty else moves
    holders = before.groupby("alias")["version"].last() if not before.empty else pd.Series(dtype=object)
    t.aliases_then = sorted(a for a, v in holders.items() if v is not None and not pd.isna(v)
                            and int(v) == t.version.version)
    mine = moves[moves["version"] == t.version.version] if not moves.empty else moves
    t.alias_moves = [{k: _plain(r[k]) for k in ("alias", "version", "kind", "actor", "reason", "ts")}
                     for _, r in mine.iterrows()]
    t.approvals = [{k: _plain(v) for k, v in r.items()}
                   for r in reg.gov.approvals_for_version(t.version.name, t.version.version).to_dict("records")]
    if t.version.run_id:
        _add_run(ws, t, t.version.run_id)
    else:
        t.notes.append(f"{t.version.ref} was registered from an object, not a tracked run: "
                       "no data or code lineage")


def _add_run(ws: Workspace, t: Trace, run_id: str) -> None:
    from nbops.tracking.lineage_view import render_lineage

    details = ws.run_details(run_id)
    t.run = {k: _plain(v) for k, v in details["run"].items()}
    env = dict(details["environment"])
    if isinstance(env.get("packages"), str):
        env["packages"] = json.loads(env["packages"])
    t.environment = {k: _plain(v) if not isinstance(v, dict) else v for k, v in env.items()}
    t.lineage = render_lineage(ws, run_id)
