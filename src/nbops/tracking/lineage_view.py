"""The chain data → cells → model behind a variable, a run or an artifact, as an indented tree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nbops.errors import NbopsError, NotFound

if TYPE_CHECKING:
    from nbops.tracking.track import TrackingSession
    from nbops.workspace import Workspace

_MAX_DEPTH = 12


def _start(ws: Workspace, ref: str, ns: Mapping[str, Any] | None,
           session: TrackingSession | None) -> tuple[str, str]:
    """(title, run id) for a variable name, a run id (prefix) or an artifact reference."""
    if session is not None and ns is not None and ref in ns:
        p = session.lineage.producer(ref)
        if p is None:
            raise NotFound(f"{ref} was not produced by a tracked cell",
                           hint="run the cell that makes it with %%track")
        return f"{ref} (variable)", p.run_id
    try:
        return f"run {ref}", ws.runs_repo.resolve_id(ref)
    except NbopsError:
        pass
    row = ws.artifact(ref)
    title = f"{row['name']}@v{int(row['version'])} ({row['kind']})"
    if row["role"] == "output":
        return title, str(row["run_id"])
    writers = ws.runs_repo.writers_of([f"{row['name']}:{row['fingerprint']}"])
    if not writers:
        raise NotFound(f"no tracked run wrote {ref}")
    return title, next(iter(writers.values()))


def render_lineage(ws: Workspace, ref: str, *, ns: Mapping[str, Any] | None = None,
                   session: TrackingSession | None = None) -> str:
    title, run_id = _start(ws, ref, ns, session)
    lines = [title]
    _walk(ws, run_id, 1, lines, set(), "made by")
    return "\n".join(lines)


def _run_label(ws: Workspace, run_id: str) -> str:
    head = ws.runs_repo.run_heads([run_id]).get(run_id, {})
    bits = [f"run {run_id}"]
    if head.get("name"):
        bits.append(str(head["name"]))
    if head.get("cell_id"):
        bits.append(f"[cell {head['cell_id']}]")
    if head.get("status") and head["status"] != "finished":
        bits.append(f"({head['status']})")
    return " ".join(bits)


def _walk(ws: Workspace, run_id: str, depth: int, lines: list[str], seen: set[str], how: str) -> None:
    pad = "  " * depth
    lines.append(f"{pad}← {how} {_run_label(ws, run_id)}")
    if run_id in seen:
        lines.append(f"{pad}  (see above)")
        return
    seen.add(run_id)
    if depth >= _MAX_DEPTH:
        lines.append(f"{pad}  …")
        return
    edges = ws.runs_repo.lineage_edges(run_id).to_dict("records")
    outputs = [e["dst_ref"].split(":")[0] for e in edges if e["relation"] == "wrote"]
    if outputs:
        lines.append(f"{pad}  → wrote {', '.join(sorted(set(outputs)))}")
    for e in edges:
        if e["src_kind"] == "hidden":
            lines.append(f"{pad}  ⚠ read {e['relation'].removeprefix('var:')}: hidden state ({e['src_ref']})")
    data = [e["src_ref"] for e in edges if e["src_kind"] == "artifact" and e["relation"] == "read"]
    writers = ws.runs_repo.writers_of(data)
    by_run: dict[str, list[str]] = {}
    for e in edges:
        if e["src_kind"] == "run" and e["relation"].startswith("var:") and e["src_ref"] != run_id:
            by_run.setdefault(e["src_ref"], []).append(e["relation"][4:])
    for upstream, names in by_run.items():
        _walk(ws, upstream, depth + 1, lines, seen, f"{', '.join(sorted(names))} from")
    for ref in data:
        name = ref.split(":")[0]
        writer = writers.get(ref)
        if writer is None or writer == run_id:
            lines.append(f"{pad}  ← data {name} (not written by a tracked run)")
        elif writer not in seen:
            _walk(ws, writer, depth + 1, lines, seen, f"data {name} from")
