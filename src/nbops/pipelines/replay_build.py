"""Replay: a clean pipeline notebook from the lineage of a model version or a run.

``replay(ref)`` starts at the run that produced ``ref`` (``clf@v3``, ``churn@production``,
``RUN/clf`` or a run id), follows the recorded lineage (for every variable a tracked
cell read, the run that produced its value) back to the first cells, and keeps only
those runs, in the order their values were produced — not the notebook's order, which
out-of-order execution makes meaningless. Their recorded source becomes the cells of
a new notebook; literal scalar assignments are lifted into a ``parameters`` cell (on
the AST); imports the cells need are gathered from the original notebook.

What the lineage cannot give is reported, in the result and in the notebook: a value
made by an untracked cell (hidden state) is loaded from the snapshot nbops took when
a tracked cell read it, when there is one, and is otherwise a missing input.
``verify=True`` runs the notebook as a pipeline run and compares what it produces with
the originals (see :mod:`nbops.pipelines.replay_verify`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbops.catalog.replay import ReplayRepository
from nbops.errors import NbopsError
from nbops.pipelines import replay_source as src
from nbops.pipelines.replay_target import Target, _clean, resolve_target

if TYPE_CHECKING:
    from nbops.pipelines.replay_verify import Verification
    from nbops.workspace import Workspace

__all__ = ["HiddenInput", "Replay", "Step", "Target", "replay"]


@dataclass(frozen=True)
class HiddenInput:
    """A value a replayed cell read that no replayed cell produces."""

    run_id: str  # the run that read it
    name: str
    reason: str  # untracked | cell-changed | cell-deleted | unresolved | pipeline-parameter
    snapshot: str | None = None  # "name@vN": the recorded value, loadable with ws.load
    value: str | None = None  # a literal found in a notebook (see replay_recover)
    code: str | None = None  # a def/class found in the saved notebook

    @property
    def missing(self) -> bool:
        """True when the replay cannot make the value (the cell changed/deleted cases replay fine)."""
        return self.reason in ("untracked", "unresolved")

    def describe(self) -> str:
        what = {"untracked": "made by an untracked cell",
                "unresolved": "defined by no replayed cell",
                "cell-changed": "its cell has changed since; the code that ran is replayed",
                "cell-deleted": "its cell was deleted; the code that ran is replayed",
                "pipeline-parameter": "a parameter of the pipeline run it ran in",
                }.get(self.reason, self.reason)
        if self.snapshot:
            what += f"; loaded from the snapshot {self.snapshot}"
        elif self.code is not None:
            what += "; its definition is taken from the saved notebook, which may not be what ran"
        elif self.value is not None and self.missing:
            what += f"; = {self.value} in the saved notebook, which may not be what ran"
        elif self.value is not None:
            what += f" (= {self.value}), in the parameters cell"
        elif self.missing:
            what += "; no recorded copy: a missing input"
        return f"{self.name} (read by run {self.run_id}): {what}"


@dataclass
class Step:
    """One replayed run: its recorded source, what it read, what was lifted from it."""

    run: dict[str, Any]
    index: int = 0
    producers: dict[str, str] = field(default_factory=dict)  # variable -> producing run id
    hidden: list[HiddenInput] = field(default_factory=list)
    params: list[str] = field(default_factory=list)  # the run's recorded parameter names
    body: str = ""
    lifted: list[src.LiteralAssignment] = field(default_factory=list)
    removed: list[src.LiteralAssignment] = field(default_factory=list)  # values nothing uses
    imports: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.run["run_id"])

    @property
    def name(self) -> str | None:
        return _clean(self.run.get("name"))

    @property
    def code(self) -> str | None:
        return _clean(self.run.get("code"))

    @property
    def recorded_params(self) -> list[str]:
        """The run's parameter names, less the unused values the replay drops."""
        gone = {a.name for a in self.removed}
        return sorted({p for p in self.params if p not in gone})

    @property
    def dropped(self) -> bool:
        """The cell only set parameters: the parameters cell replaces it."""
        return bool(self.lifted or self.removed) and not src.has_statements(self.body)

    def label(self) -> str:
        cell = _clean(self.run.get("cell_id"))
        count = _clean(self.run.get("execution_count"))
        bits = [self.name or "(unnamed)", f"run {self.run_id}"]
        if cell:
            bits.append(f"cell {cell}")
        if count is not None:
            bits.append(f"[{int(count)}]")
        return " ".join(bits)


@dataclass
class Replay:
    """The result of :func:`replay`: the plan, the notebook, and the verification if asked."""

    target: Target
    steps: list[Step]
    parameters: list[src.LiteralAssignment]
    imports: list[str]
    left_out: list[dict[str, Any]]
    notebooks: list[str]  # as the runs recorded them
    notebook_files: list[Path] = field(default_factory=list)  # those found on disk
    notebook: Any = None  # nbformat.NotebookNode
    path: Path | None = None
    verification: Verification | None = None

    @property
    def hidden(self) -> list[HiddenInput]:
        return [h for s in self.steps for h in s.hidden]

    @property
    def missing(self) -> list[HiddenInput]:
        return [h for h in self.hidden if h.missing]

    @property
    def ok(self) -> bool:
        """No hidden state, and (when verified) the pipeline reproduced the originals."""
        return not self.missing and (self.verification is None or self.verification.ok)

    def report(self) -> str:
        from nbops.pipelines.replay_notebook import render_report

        return render_report(self)


def replay(ref: str, output: str | Path | None = None, verify: bool = False,
           ws: Workspace | None = None, *, progress: bool = True) -> Replay:
    """Build a clean pipeline notebook from the lineage of ``ref``; optionally verify it.

    Parameters
    ----------
    ref : a model version (``clf@v3``, ``churn@production``, ``RUN/clf``) or a run id.
    output : where to write the notebook; with ``verify`` and no ``output`` it goes to
        ``.nbops/replays/``.
    verify : run the notebook through :func:`nbops.pipelines.run` and compare the
        datasets, model hyperparameters and metrics it produces with the originals.
    """
    from nbops._opened import opened

    with opened(ws) as w:
        plan = build(w, ref)
        from nbops.pipelines.replay_notebook import write_notebook

        plan.notebook = write_notebook(plan)
        if output is None and verify:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            output = w.settings.home / "replays" / f"{plan.target.run_id}-{stamp}.ipynb"
        if output is not None:
            plan.path = _write(plan.notebook, Path(output))
        if verify:
            from nbops.pipelines.replay_verify import verify as run_verification

            assert plan.path is not None
            plan.verification = run_verification(w, plan, progress=progress)
        return plan


def _write(nb: Any, path: Path) -> Path:
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def build(ws: Workspace, ref: str) -> Replay:
    """The replay plan for ``ref`` (no notebook written, nothing run)."""
    repo = ReplayRepository(ws.catalog)
    target = resolve_target(ws, ref)
    order, edges = _walk(repo, target.run_id)
    runs = repo.runs(order)
    ordered = sorted(runs, key=lambda r: (runs[r]["started_at"], r))
    steps = [Step(runs[r], i) for i, r in enumerate(ordered)]
    unusable = [s.label() for s in steps if s.code is None]
    if unusable:
        raise NbopsError(f"cannot replay {target.label}: no code was recorded for {', '.join(unusable)}",
                         hint="replay works on runs recorded by %%track or nbops.track()")
    _attach_lineage(repo, steps, edges)
    notebooks = list(dict.fromkeys(str(n) for s in steps if (n := _clean(s.run.get("notebook")))))
    # the other runs of the same notebooks (or, with none, of the same console session)
    session = (repo.runs_of_notebooks(notebooks) if notebooks else
               repo.runs_without_notebook(steps[0].run["started_at"], steps[-1].run["started_at"]))
    parameters = _lift_parameters(steps)
    files = [f for n in notebooks if (f := _locate(ws, n)) is not None]
    imports = _resolve_names(steps, _notebook_sources(session, files), parameters)
    from nbops.pipelines.replay_recover import recover

    lifted = {p.name for p in parameters}
    parameters += [p for p in recover(ws, steps, files) if p.name not in lifted]
    return Replay(target, steps, parameters, imports, _left_out(session, steps), notebooks, files)


def _locate(ws: Workspace, notebook: str) -> Path | None:
    """The saved notebook a run names: its path, or that path under the workspace's root
    (a frontend may give it relative to its own root)."""
    for path in (Path(notebook), ws.settings.home.resolve().parent / notebook):
        if path.suffix == ".ipynb" and path.is_file():
            return path
    return None


# -- lineage ------------------------------------------------------------------------
def _walk(repo: ReplayRepository, start: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Every run ``start`` depends on through the values its cells read (``start`` included),
    and the lineage rows of those runs."""
    seen = {start}
    frontier = [start]
    edges: list[dict[str, Any]] = []
    while frontier:
        upstream = []
        for e in repo.edges(frontier):
            edges.append(e)
            if e["src_kind"] == "run" and str(e["relation"]).startswith("var:") and e["src_ref"] not in seen:
                seen.add(e["src_ref"])
                upstream.append(e["src_ref"])
        frontier = upstream
    return sorted(seen), edges


def _attach_lineage(repo: ReplayRepository, steps: list[Step], edges: list[dict[str, Any]]) -> None:
    by_id = {s.run_id: s for s in steps}
    ids = list(by_id)
    snapshots = {(a["run_id"], a["name"]): f"{a['name']}@v{int(a['version'])}"
                 for a in repo.artifacts(ids)
                 if a["role"] == "input" and _clean(a["object_key"]) and _clean(a["version"]) is not None}
    for e in edges:
        step, rel = by_id[e["run_id"]], str(e["relation"])
        if not rel.startswith("var:"):
            continue
        name = rel[4:]
        if e["src_kind"] == "run" and e["src_ref"] in by_id and e["src_ref"] != step.run_id:
            step.producers[name] = str(e["src_ref"])
        elif e["src_kind"] == "run" and e["src_ref"] not in by_id:  # its run was never committed
            step.hidden.append(HiddenInput(step.run_id, name, "untracked", snapshots.get((step.run_id, name))))
        elif e["src_kind"] == "hidden":
            snap = snapshots.get((step.run_id, name)) if e["src_ref"] == "untracked" else None
            step.hidden.append(HiddenInput(step.run_id, name, str(e["src_ref"]), snap))
    for p in repo.params(ids):
        by_id[p["run_id"]].params.append(str(p["key"]))


# -- parameters ---------------------------------------------------------------------
def _lift_parameters(steps: list[Step]) -> list[src.LiteralAssignment]:
    """Lift every literal assignment whose name the replayed cells bind nowhere else.

    A name is lifted only when each of its bindings in the replayed cells is a
    top-level literal assignment of one same value, and no cell reads it before one
    of them runs (else the parameters cell would change what that cell saw). A
    literal no replayed cell uses (a value that a re-run cell overwrote before
    anything read it) is dropped first when it conflicts with another value of the
    name, so it does not block lifting the one used.
    """
    literals = [src.literal_assignments(s.code or "") for s in steps]
    values: dict[str, set[str]] = {}
    for a in (a for lits in literals for a in lits):
        values.setdefault(a.name, set()).add(a.key)
    for step, lits in zip(steps, literals, strict=True):
        step.removed = [a for a in lits if len(values[a.name]) > 1 and _unused(a, step, steps)]
        lits[:] = [a for a in lits if a not in step.removed]
    candidates = list(dict.fromkeys(a.name for lits in literals for a in lits
                                    if not a.name.startswith("_")))
    hidden = {h.name for s in steps for h in s.hidden if h.missing}
    counts = [src.bindings(s.code or "") for s in steps]
    for step, count in zip(steps, counts, strict=True):
        count.subtract(a.name for a in step.removed)
    reads = [_reads(s.code or "") for s in steps]
    lifted: dict[str, src.LiteralAssignment] = {}
    for name in candidates:
        first = _liftable(name, literals, counts, reads)
        if first is not None and name not in hidden:
            lifted[name] = first
    for step, lits in zip(steps, literals, strict=True):
        step.lifted = [a for a in lits if a.name in lifted]
        step.body = src.remove_statements(step.code or "", {a.index for a in step.lifted + step.removed})
    return list(lifted.values())


def _unused(a: src.LiteralAssignment, step: Step, steps: list[Step]) -> bool:
    """Nothing replayed reads this value: not the cell itself, no later step, not the target."""
    if a.name in src.loaded_names(step.code or ""):
        return False
    return not any(s.producers.get(a.name) == step.run_id for s in steps) and step is not steps[-1]


def _liftable(name: str, literals: list[list[src.LiteralAssignment]], counts: list[Counter[str]],
              reads: list[set[str]]) -> src.LiteralAssignment | None:
    first: src.LiteralAssignment | None = None
    for lits, count, read in zip(literals, counts, reads, strict=True):
        mine = [a for a in lits if a.name == name]
        if name in read and first is None:
            return None
        if count[name] != len(mine) or any(first is not None and a.key != first.key for a in mine):
            return None
        if mine and first is None:
            first = mine[0]
            if any(a.key != first.key for a in mine):
                return None
    return first


def _reads(code: str) -> set[str]:
    from nbops.tracking.names_ast import analyze

    try:
        return analyze(code).reads
    except SyntaxError:
        return set()


# -- names no replayed cell defines: imports, or hidden state -------------------------
def _resolve_names(steps: list[Step], sources: list[str],
                   parameters: list[src.LiteralAssignment]) -> list[str]:
    """Imports the cells need; names nothing defines become ``unresolved`` hidden inputs."""
    imports = src.imports_by_name(sources)
    defined = {p.name for p in parameters}
    needed: dict[str, str] = {}
    for step in steps:
        known = defined | set(step.producers) | {h.name for h in step.hidden}
        for name in sorted(src.free_names(step.body) - known):
            if name in imports:
                needed.setdefault(name, imports[name])
            else:
                step.hidden.append(HiddenInput(step.run_id, name, "unresolved"))
        defined |= set(src.bindings(step.body)) | {h.name for h in step.hidden}
    return list(dict.fromkeys(needed.values()))


def _notebook_sources(session: list[dict[str, Any]], files: list[Path]) -> list[str]:
    """Code of the session's runs, then the saved notebooks' cells (newest last)."""
    sources = [str(r["code"]) for r in session if _clean(r.get("code"))]
    for path in files:
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            continue
        for cell in cells:
            if cell.get("cell_type") == "code":
                text = cell.get("source", "")
                sources.append("".join(text) if isinstance(text, list) else str(text))
    return sources


def _left_out(session: list[dict[str, Any]], steps: list[Step]) -> list[dict[str, Any]]:
    """The latest run of each tracked cell of the session that the target does not need."""
    latest: dict[str, dict[str, Any]] = {}
    for r in session:
        if r.get("kind") == "cell":
            latest[_cell_key(r)] = r
    kept = {_cell_key(s.run) for s in steps}
    return [r for k, r in latest.items() if k not in kept]


def _cell_key(run: dict[str, Any]) -> str:
    """A tracked cell's identity: its cell id, else its run name, else the run itself."""
    return str(_clean(run.get("cell_id")) or _clean(run.get("name")) or run["run_id"])
