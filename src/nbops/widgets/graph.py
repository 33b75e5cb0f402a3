"""Collect the lineage graph around a reference: data → cells → models → registry versions → aliases.

Walks the catalog's ``lineage`` edges upstream from the run behind ``ref`` (the
writer of each input dataset, the producer of each variable read), then adds the
pipeline runs those cells ran in and the registry versions and aliases of the
models they wrote. Hidden-state reads become edges marked ``hidden``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from nbops.errors import NbopsError, NotFound
from nbops.widgets.data import repo
from nbops.widgets.figures_graph import Edge, Node

if TYPE_CHECKING:
    from nbops.workspace import Workspace

_MAX_DEPTH = 12


def start_run(ws: Workspace, ref: str) -> str:
    """The run behind ``ref``: a run id (prefix), or the run that wrote an artifact reference."""
    try:
        return ws.runs_repo.resolve_id(ref)
    except NbopsError:
        pass
    row = ws.artifact(ref)
    if row["role"] == "output":
        return str(row["run_id"])
    writers = ws.runs_repo.writers_of([f"{row['name']}:{row['fingerprint']}"])
    if not writers:
        raise NotFound(f"no tracked run wrote {ref}")
    return next(iter(writers.values()))


class _Builder:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []

    def node(self, nid: str, kind: str, label: str, **details: Any) -> str:
        if nid not in self.nodes:
            self.nodes[nid] = Node(nid, kind, label, {k: v for k, v in details.items() if _present(v)})
        return nid

    def walk(self, first: str) -> list[str]:
        """Visit runs breadth-first upstream; returns the visited run ids."""
        seen: list[str] = []
        frontier = [first]
        for _ in range(_MAX_DEPTH):
            frontier = [r for r in dict.fromkeys(frontier) if r not in seen]
            if not frontier:
                break
            seen += frontier
            frontier = self._expand(frontier)
        return seen

    def _expand(self, runs: list[str]) -> list[str]:
        r = repo(self.ws)
        edges = r.lineage_for_runs(runs).to_dict("records")
        kinds = {(a["name"], a["fingerprint"]): a for a in r.artifacts_of_runs(runs).to_dict("records")}
        reads = [e["src_ref"] for e in edges if e["src_kind"] == "artifact"]
        writers = self.ws.runs_repo.writers_of(reads)
        upstream: list[str] = []
        for e in edges:
            run = self._run_node(e["run_id"])
            if e["src_kind"] == "artifact":
                art = self._artifact_node(e["src_ref"], kinds)
                self.edges.append(Edge(art, run, "read"))
                w = writers.get(e["src_ref"])
                if w and w != e["run_id"]:
                    self.edges.append(Edge(self._run_node(w), art, "wrote"))
                    upstream.append(w)
            elif e["dst_kind"] == "artifact":
                self.edges.append(Edge(run, self._artifact_node(e["dst_ref"], kinds), "wrote"))
            elif e["src_kind"] == "run" and e["src_ref"] != e["run_id"]:
                self.edges.append(Edge(self._run_node(e["src_ref"]), run, e["relation"]))
                upstream.append(e["src_ref"])
            elif e["src_kind"] == "hidden":
                var = e["relation"].removeprefix("var:")
                h = self.node(f"hidden:{e['run_id']}:{var}", "hidden", f"{var} (hidden state)",
                              variable=var, reason=e["src_ref"])
                self.edges.append(Edge(h, run, e["relation"], hidden=True))
        return upstream

    def _run_node(self, run_id: str) -> str:
        return self.node(f"run:{run_id}", "run", run_id[:8], run_id=run_id)

    def _artifact_node(self, ref: str, kinds: dict[tuple[str, str], dict[str, Any]]) -> str:
        name, _, fp = ref.partition(":")
        a = kinds.get((name, fp), {})
        kind = "model" if a.get("kind") == "model" else "data"
        version = a.get("version")
        label = f"{name}@v{version:.0f}" if _present(version) else name
        return self.node(f"artifact:{ref}", kind, label, name=name, fingerprint=fp,
                         version=version, rows=a.get("n_rows"), cols=a.get("n_cols"))

    def decorate(self, runs: list[str]) -> None:
        """Run labels and details, pipeline runs, registry versions and their aliases."""
        heads = self.ws.runs_repo.run_heads(runs)
        for run_id, head in heads.items():
            nid = f"run:{run_id}"
            if nid in self.nodes:
                label = f"{head['name']} · {run_id[:8]}" if _present(head.get("name")) else run_id[:8]
                self.nodes[nid] = Node(nid, "run", label, {k: v for k, v in head.items() if _present(v)})
        r = repo(self.ws)
        for p in r.run_pipeline_runs(runs).to_dict("records"):
            pid = self.node(f"pipeline:{p['pipeline_run_id']}", "pipeline",
                            f"pipeline {p['schedule_name'] or p['pipeline_run_id'][:8]}", **p)
            self.edges.append(Edge(pid, f"run:{p['run_id']}", "ran"))
        for v in r.versions_from_runs(runs).to_dict("records"):
            vid = self.node(f"version:{v['name']}:{v['version']}", "version",
                            f"{v['name']} v{v['version']}", **v)
            src = f"artifact:{v['artifact_name']}:{v['fingerprint']}"
            self.edges.append(Edge(src if src in self.nodes else f"run:{v['run_id']}", vid, "registered"))
            for alias in str(v["aliases"] or "").split(","):
                if alias:
                    aid = self.node(f"alias:{v['name']}@{alias}", "alias", f"@{alias}",
                                    model=v["name"], alias=alias, version=v["version"])
                    self.edges.append(Edge(vid, aid, "alias"))


def _present(v: Any) -> bool:
    if v is None:
        return False
    try:
        return not bool(pd.isna(v))
    except (TypeError, ValueError):
        return True


def lineage_graph(ws: Workspace, ref: str) -> tuple[list[Node], list[Edge]]:
    """Nodes and (deduplicated) edges of the lineage graph around ``ref``."""
    b = _Builder(ws)
    first = start_run(ws, ref)
    b._run_node(first)  # shown even when it read and wrote nothing tracked
    runs = b.walk(first)
    b.decorate(runs)
    edges = list(dict.fromkeys(e for e in b.edges if e.src in b.nodes and e.dst in b.nodes))
    return list(b.nodes.values()), edges
