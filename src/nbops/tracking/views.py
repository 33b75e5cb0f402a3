"""Text views of tracked runs shared by ``%nbops`` and the CLI: show, diff, lineage, checkout."""

from __future__ import annotations

import difflib
import json
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from nbops.errors import NotFound
from nbops.tracking.fingerprint import fingerprint
from nbops.tracking.lineage import Producer

if TYPE_CHECKING:
    from nbops.tracking.track import TrackingSession
    from nbops.workspace import Workspace


def _val(x: Any) -> Any:
    return None if x is None or (isinstance(x, float) and x != x) else x


def render_run(ws: Workspace, ref: str) -> str:
    """One run: header, params, metrics, artifacts, hidden state, code."""
    d = ws.run_details(ref)
    r = d["run"]
    out = [f"run {r['run_id']}  {r['name'] or ''}  [{r['status']}]  {r['duration_ms']:.0f} ms"]
    where = [f"{k} {_val(r.get(k))}" for k in ("notebook", "cell_id", "execution_count") if _val(r.get(k))]
    if where:
        out.append("  " + "  ".join(where))
    if _val(r.get("error")):
        out.append(f"  error: {r['error']}")
    tags = json.loads(r["tags"]) if _val(r.get("tags")) else {}
    if tags.get("hidden_state"):
        out.append(f"  hidden state: {tags['hidden_state']}")
    out += [f"  param  {p.key} = {p.value}" for p in d["params"].itertuples()]
    for key, g in d["metrics"].groupby("key"):
        steps = f"  ({len(g)} steps)" if len(g) > 1 else ""
        out.append(f"  metric {key} = {g['value'].iloc[-1]:.6g}{steps}")
    for a in d["artifacts"].itertuples():
        if _val(a.skipped_reason):
            out.append(f"  {a.role:<6} {a.kind:<7} {a.name}  skipped: {a.skipped_reason}")
        else:
            out.append(f"  {a.role:<6} {a.kind:<7} {a.name}@v{int(a.version)}  {a.shape or ''}")
    if _val(r.get("code")):
        out.append("  code:")
        out += [f"    {line}" for line in str(r["code"]).splitlines()]
    return "\n".join(out)


def _artifact_map(details: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(a["role"], a["name"]): a for a in details["artifacts"].to_dict("records")}


def _kv_diff(title: str, a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    lines = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k, "—"), b.get(k, "—")
        if va != vb:
            lines.append(f"  {k}: {va} → {vb}")
    return [f"{title}:"] + lines if lines else []


def _artifact_lines(arts_a: dict, arts_b: dict) -> list[str]:
    lines: list[str] = []
    for key in sorted(set(arts_a) | set(arts_b)):
        role, name = key
        a, b = arts_a.get(key), arts_b.get(key)
        label = f"  {role} {name}"
        if a is None or b is None:
            lines.append(f"{label}: {'only in B' if a is None else 'only in A'}")
            continue
        if a["fingerprint"] == b["fingerprint"]:
            continue
        lines.append(f"{label}: v{_v(a)} → v{_v(b)} (content differs)")
        if _val(a["shape"]) != _val(b["shape"]):
            lines.append(f"    shape {a['shape']} → {b['shape']}")
        sa, sb = (json.loads(x["schema_json"]) if _val(x["schema_json"]) else {} for x in (a, b))
        lines += ["    " + s for s in _kv_diff("schema", sa, sb)]
        ha, hb = (json.loads(x["metadata"]).get("hyperparameters", {}) if _val(x["metadata"]) else {}
                  for x in (a, b))
        lines += ["    " + s for s in _kv_diff("hyperparameters", ha, hb)]
    return ["data and models:"] + lines if lines else []


def _v(a: dict[str, Any]) -> str:
    return str(int(a["version"])) if _val(a.get("version")) is not None else "?"


def render_diff(ws: Workspace, ref_a: str, ref_b: str) -> str:
    """Code, params, metrics, data (schema, shape, fingerprint) and model hyperparameters of A vs B."""
    da, db = ws.run_details(ref_a), ws.run_details(ref_b)
    ra, rb = da["run"], db["run"]
    out = [f"A = run {ra['run_id']} {ra['name'] or ''}   B = run {rb['run_id']} {rb['name'] or ''}"]
    code = list(difflib.unified_diff(str(_val(ra.get("code")) or "").splitlines(),
                                     str(_val(rb.get("code")) or "").splitlines(),
                                     "A", "B", lineterm="", n=2))
    out += ["code:"] + ["  " + c for c in code[2:]] if code else ["code: same"]
    pa = {p["key"]: p["value"] for p in da["params"].to_dict("records")}
    pb = {p["key"]: p["value"] for p in db["params"].to_dict("records")}
    out += _kv_diff("params", pa, pb) or ["params: same"]
    ma = {k: g["value"].iloc[-1] for k, g in da["metrics"].groupby("key")}
    mb = {k: g["value"].iloc[-1] for k, g in db["metrics"].groupby("key")}
    out += _metric_lines(ma, mb)
    out += _artifact_lines(_artifact_map(da), _artifact_map(db)) or ["data and models: same"]
    return "\n".join(out)


def _metric_lines(ma: dict[str, float], mb: dict[str, float]) -> list[str]:
    lines = []
    for k in sorted(set(ma) | set(mb)):
        a, b = ma.get(k), mb.get(k)
        if a is None or b is None:
            lines.append(f"  {k}: {a if a is not None else '—'} → {b if b is not None else '—'}")
        elif a != b:
            lines.append(f"  {k}: {a:.6g} → {b:.6g} ({b - a:+.4g})")
    return ["metrics:"] + lines if lines else ["metrics: same"]


def checkout(ws: Workspace, ref: str, ns: MutableMapping[str, Any], as_name: str | None = None,
             session: TrackingSession | None = None) -> tuple[str, Any]:
    """Load the dataset or model ``ref`` names into ``ns`` (roll back); returns (name, value)."""
    row = ws.artifact(ref)
    value = ws.load(ref)
    name = as_name or str(row["name"])
    if not name.isidentifier():
        raise NotFound(f"{name!r} is not a valid variable name", hint="use `checkout REF as NAME`")
    ns[name] = value
    if session is not None:
        from datetime import UTC, datetime

        session.lineage.produced(name, Producer(str(row["run_id"]), fingerprint(value), id(value),
                                                None, "", None, datetime.now(UTC)))
    return name, value


def restore(ws: Workspace, run_ref: str, ns: MutableMapping[str, Any],
            session: TrackingSession | None = None) -> list[str]:
    """Load every stored output of a run back into ``ns``."""
    run_id = ws.runs_repo.resolve_id(run_ref)
    arts = ws.run_details(run_id)["artifacts"]
    names = []
    for a in arts.to_dict("records"):
        if a["role"] == "output" and _val(a["object_key"]) and str(a["name"]).isidentifier():
            checkout(ws, f"{run_id}/{a['name']}", ns, session=session)
            names.append(str(a["name"]))
    return names
