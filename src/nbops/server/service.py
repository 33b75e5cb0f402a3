"""What the REST API does, as plain blocking functions over one workspace (no tornado here).

The handlers run these in a thread pool so the server's event loop never waits on the catalog.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nbops.catalog.sidebar import SidebarQueries
from nbops.errors import NbopsError
from nbops.server.jsonify import records, value
from nbops.workspace import Workspace

MAX_PAGE = 500


@dataclass(frozen=True)
class RunQuery:
    notebook: str | None = None
    filter: str | None = None
    sort: str = "started_at"
    ascending: bool = False
    offset: int = 0
    limit: int = 50


class WorkspaceHub:
    """The workspaces the server has opened, by ``.nbops`` directory (one shared catalog each)."""

    def __init__(self, root_dir: str | Path) -> None:
        self.root_dir = Path(root_dir).resolve()
        self._open: dict[Path, Workspace] = {}
        self._lock = threading.Lock()

    def notebook_path(self, notebook: str | None) -> str | None:
        """A notebook path as the kernels record it: absolute (relative ones are under the root)."""
        if not notebook:
            return None
        p = Path(notebook)
        return str(p if p.is_absolute() else (self.root_dir / p).resolve())

    def workspace(self, notebook: str | None = None) -> Workspace:
        from nbops.config import find_workspace

        nb_path = self.notebook_path(notebook)
        start = Path(nb_path).parent if nb_path else None
        home = find_workspace(start) if start else None
        home = home or find_workspace(None if _env_home() else self.root_dir)
        if home is None or not (home / "config.toml").is_file():
            from nbops.errors import WorkspaceNotFound

            raise WorkspaceNotFound(f"no nbops workspace in {self.root_dir} or above",
                                    hint="run `nbops init` in the notebooks' directory, or set NBOPS_HOME")
        with self._lock:
            ws = self._open.get(home)
            if ws is None:
                ws = self._open[home] = Workspace.open(home.parent, create=False)
            return ws

    def close(self) -> None:
        with self._lock:
            for ws in self._open.values():
                ws.close()
            self._open.clear()


def _env_home() -> bool:
    import os

    return bool(os.environ.get("NBOPS_HOME"))


def _parse(v: Any, default: Any, low: Any, high: Any, what: str, cast: type, noun: str) -> Any:
    """A query-string number within [low, high]; ``default`` when absent."""
    if v is None or v == "":
        return default
    show = (lambda n: f"{n:g}") if cast is float else str
    span = f"{show(low)}..{show(high)}"
    try:
        x = cast(v)
    except (TypeError, ValueError):
        raise NbopsError(f"{what} must be {noun}, not {v!r}", hint=f"use {span}") from None
    if not low <= x <= high:
        raise NbopsError(f"{what} must be in {span}, not {show(x)}", hint=f"use {span}")
    return x


def parse_float(v: Any, default: float, low: float, high: float, what: str) -> float:
    return float(_parse(v, default, low, high, what, float, "a number"))


def parse_int(v: Any, default: int, low: int, high: int, what: str) -> int:
    return int(_parse(v, default, low, high, what, int, "an integer"))


def parse_run_query(args: dict[str, str | None]) -> RunQuery:
    return RunQuery(
        notebook=args.get("notebook") or None, filter=args.get("filter") or None,
        sort=args.get("sort") or "started_at", ascending=(args.get("order") or "desc") == "asc",
        offset=parse_int(args.get("offset"), 0, 0, 10**9, "offset"),
        limit=parse_int(args.get("limit"), 50, 1, MAX_PAGE, "limit"))


def list_runs(hub: WorkspaceHub, q: RunQuery) -> dict[str, Any]:
    """One page of runs, newest first by default, with params, metrics and a hidden-state flag."""
    ws = hub.workspace(q.notebook)
    notebook = hub.notebook_path(q.notebook)
    by_value = q.sort.split(".", 1)[0] in ("metric", "metrics", "param", "params")
    if q.filter or by_value:
        frame = ws.runs(q.filter, sort=q.sort, ascending=q.ascending, notebook=notebook)
        total = len(frame)
        page = frame.iloc[q.offset:q.offset + q.limit]
    else:
        frame = ws.runs(sort=q.sort, ascending=q.ascending, notebook=notebook,
                        limit=q.offset + q.limit)  # reads params and metrics of these runs only
        total = ws.runs_repo.count(notebook)
        page = frame.iloc[q.offset:].reset_index(drop=True)
    rows = records(page)
    tags = SidebarQueries(ws.catalog).run_tags([r["run_id"] for r in rows])
    for r in rows:
        t = tags.get(r["run_id"], {})
        r["hidden_state"] = t.get("hidden_state")
        r["params"] = {k[6:]: v for k, v in r.items() if k.startswith("param.") and v is not None}
        r["metrics"] = {k[7:]: v for k, v in r.items() if k.startswith("metric.") and v is not None}
        for k in [k for k in r if k.startswith(("param.", "metric."))]:
            del r[k]
    return {"total": total, "offset": q.offset, "limit": q.limit, "runs": rows}


def run_details(hub: WorkspaceHub, ref: str) -> dict[str, Any]:
    ws = hub.workspace()
    d = ws.run_details(ref)
    run = {k: value(v) for k, v in d["run"].items()}
    tags = SidebarQueries(ws.catalog).run_tags([run["run_id"]]).get(run["run_id"], {})
    arts = records(d["artifacts"])
    return {
        "run": run, "code": run.pop("code", None), "tags": tags, "hidden_state": tags.get("hidden_state"),
        "params": {r["key"]: _typed(r["value"], r.get("value_type")) for r in records(d["params"])},
        "metrics": records(d["metrics"]),
        "inputs": [a for a in arts if a.get("role") == "input"],
        "outputs": [a for a in arts if a.get("role") == "output"],
        "lineage": records(d["lineage"]),
        "environment": {k: value(v) for k, v in d["environment"].items()},
    }


def run_diff(hub: WorkspaceHub, ref_a: str, ref_b: str) -> dict[str, Any]:
    from nbops.tracking.views import render_diff

    ws = hub.workspace()
    a, b = run_details(hub, ref_a), run_details(hub, ref_b)
    latest = [{m["key"]: m["value"] for m in x["metrics"]} for x in (a, b)]
    return {
        "a": a["run"]["run_id"], "b": b["run"]["run_id"],
        "code_changed": a["code"] != b["code"],
        "params": _side_by_side(a["params"], b["params"]),
        "metrics": _side_by_side(latest[0], latest[1]),
        "text": render_diff(ws, ref_a, ref_b),
    }


def _typed(v: Any, value_type: str | None) -> Any:
    try:
        if value_type == "int":
            return int(v)
        if value_type == "float":
            return float(v)
    except (TypeError, ValueError):
        pass
    return v


def _side_by_side(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "a": a.get(k), "b": b.get(k), "changed": a.get(k) != b.get(k)}
            for k in sorted(set(a) | set(b))]


def now_iso() -> str:
    return datetime.now(UTC).isoformat()
