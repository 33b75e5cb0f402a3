"""Values for hidden inputs that the lineage lacks but a notebook still shows.

A scalar made by an untracked cell has no snapshot. Two places may still hold it:

* a step that ran inside a pipeline run: the executed notebook papermill wrote (in the
  object store) has the ``parameters`` cell and the injected one — exactly what ran,
  so such a value is a pipeline parameter, not hidden state;
* otherwise the saved notebook: a top-level literal assignment of the name, or a
  ``def``/``class`` of it, in an untracked cell. What the file says now may not be
  what ran, so it is used (the pipeline runs) but stays reported as hidden state.
"""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbops.errors import NbopsError
from nbops.pipelines import replay_source as src
from nbops.pipelines.replay_target import _clean

if TYPE_CHECKING:
    from nbops.pipelines.replay_build import Step
    from nbops.workspace import Workspace

_PARAMETER_TAGS = {"parameters", "injected-parameters"}


def recover(ws: Workspace, steps: list[Step], files: list[Path]) -> list[src.LiteralAssignment]:
    """Fill in the literal values of missing inputs where a notebook has them; returns them
    as assignments for the parameters cell (each with a comment saying where it came from)."""
    executed: dict[str, dict[str, src.LiteralAssignment]] = {}
    cells = _untracked_cells(files)
    saved, definitions = _saved_literals(cells), _saved_definitions(cells)
    found: dict[str, src.LiteralAssignment] = {}
    for step in steps:
        pipeline_run = _clean(step.run.get("pipeline_run_id"))
        for i, h in enumerate(step.hidden):
            if not h.missing or h.snapshot or h.name in found:
                continue
            if pipeline_run and pipeline_run not in executed:
                executed[pipeline_run] = _executed_literals(ws, str(pipeline_run))
            hit = executed.get(str(pipeline_run), {}).get(h.name) if pipeline_run else None
            if hit is not None:
                step.hidden[i] = replace(h, reason="pipeline-parameter", value=hit.text)
                found[h.name] = replace(hit, comment=f"pipeline run {pipeline_run}'s parameters")
            elif h.name in saved:
                step.hidden[i] = replace(h, value=saved[h.name].text)
                found[h.name] = replace(saved[h.name], comment="⚠ hidden state: an untracked cell of "
                                        "the saved notebook; not recorded when it ran")
            elif h.name in definitions:
                step.hidden[i] = replace(h, code=definitions[h.name])
    return list(found.values())


def _code_cells(nb: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]


def _source(cell: dict[str, Any]) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def _executed_literals(ws: Workspace, pipeline_run_id: str) -> dict[str, src.LiteralAssignment]:
    """Literal assignments of the executed notebook's parameters cells (injected ones last)."""
    from nbops.catalog.pipelines import PipelineRepository

    try:
        row = PipelineRepository(ws.catalog).pipeline_run(pipeline_run_id)
        if not row.output_key:
            return {}
        nb = json.loads(ws.store.get(row.output_key))
    except (NbopsError, ValueError, OSError):
        return {}
    out: dict[str, src.LiteralAssignment] = {}
    for cell in _code_cells(nb):
        if _PARAMETER_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            out.update({a.name: a for a in src.literal_assignments(_source(cell))})
    return out


def _untracked_cells(files: list[Path]) -> list[str]:
    """Python of the saved notebooks' cells that are not ``%%track`` cells (those are in the lineage)."""
    out = []
    for path in files:
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        texts = [_source(c) for c in _code_cells(nb)]
        out += [src.python_lines(t) for t in texts if not t.lstrip().startswith("%%")]
    return out


def _saved_literals(cells: list[str]) -> dict[str, src.LiteralAssignment]:
    """name -> its literal in the untracked cells, when they give it exactly one value."""
    seen: dict[str, list[src.LiteralAssignment]] = {}
    for text in cells:
        for a in src.literal_assignments(text):
            seen.setdefault(a.name, []).append(a)
    return {n: found[0] for n, found in seen.items() if len({a.key for a in found}) == 1}


def _saved_definitions(cells: list[str]) -> dict[str, str]:
    """name -> the ``def``/``class`` statement defining it in the untracked cells, when only one."""
    seen: dict[str, set[str]] = {}
    for text in cells:
        tree = src.parse(text)
        for stmt in tree.body if tree is not None else []:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                seen.setdefault(stmt.name, set()).add(ast.unparse(stmt))
    return {n: next(iter(code)) for n, code in seen.items() if len(code) == 1}
