"""The replayed notebook (nbformat) and the text report of a replay."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbops.pipelines.replay_build import HiddenInput, Replay, Step

SETUP = "%load_ext nbops\n%nbops autotrack on"


def write_notebook(plan: Replay) -> Any:
    """header, setup (nbops, autotrack), ``parameters``, imports, then one cell per step.

    Autotrack records the parameters cell (and papermill's injected one) as runs, so
    the steps' lineage reaches their parameters instead of flagging them as hidden state.
    """
    import nbformat
    from nbformat import v4

    cells = [v4.new_markdown_cell(_header(plan)), v4.new_code_cell(SETUP)]
    params = v4.new_code_cell(_parameters(plan))
    params.metadata["tags"] = ["parameters"]
    cells.append(params)
    if plan.imports:
        cells.append(v4.new_code_cell("\n".join(plan.imports)))
    for step in plan.steps:
        pins = [h for h in step.hidden if h.snapshot]
        if pins:
            cells.append(v4.new_code_cell(_pin_cell(pins)))
        for h in step.hidden:
            if h.code is not None:
                cells.append(v4.new_code_cell(
                    f"# ⚠ HIDDEN STATE: {h.name} was defined in an untracked cell; this is its definition\n"
                    f"# in the saved notebook, which may differ from what ran before run {h.run_id}.\n{h.code}"))
        if step.dropped:
            continue
        cell = v4.new_code_cell(_step_source(step))
        cell.metadata["nbops"] = {"replay_of": step.run_id,
                                  "cell_id": _plain(step.run.get("cell_id")),
                                  "execution_count": _plain(step.run.get("execution_count"))}
        cells.append(cell)
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["nbops"] = {"replay_of": plan.target.ref, "run_id": plan.target.run_id,
                            "steps": [s.run_id for s in plan.steps]}
    nbformat.validate(nb)
    return nb


def step_name(step: Step) -> str:
    """The run name a step gets in the pipeline: the original's, else ``step-N``."""
    return step.name or f"step-{step.index + 1}"


def _step_source(step: Step) -> str:
    magic = f"%%track -n {shlex.quote(step_name(step))}"
    if step.lifted and step.recorded_params:
        # The lifted literals now come from the parameters cell; keep them recorded on this run.
        magic += f" --params {','.join(step.recorded_params)}"
    notes = [f"# ⚠ MISSING INPUT: {h.describe()}; define it above or this cell fails."
             for h in step.hidden if h.missing and not (h.snapshot or h.value or h.code)]
    return "\n".join([magic, *notes, step.body.rstrip("\n")])


def _pin_cell(pins: list[HiddenInput]) -> str:
    lines = []
    for h in pins:
        lines += [f"# ⚠ HIDDEN STATE: {h.name} was made by an untracked cell before run {h.run_id} read it.",
                  f"# Loaded from the snapshot nbops took then ({h.snapshot}); replace this cell with",
                  f"# the code that makes {h.name} to have a pipeline that does not depend on it."]
    lines += ["import nbops as _nbops", "", "with _nbops.open() as _ws:"]
    lines += [f"    {h.name} = _ws.load({h.snapshot!r})" for h in pins]
    return "\n".join(lines)


def _parameters(plan: Replay) -> str:
    if not plan.parameters:
        return "# parameters: the replayed cells assign no literal values"
    lines = ["# parameters (literal values of the replayed cells)"]
    for p in plan.parameters:
        comment = f"  # {p.comment}" if p.comment else ""
        lines.append(f"{p.name} = {p.text}{comment}")
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    from nbops.pipelines.replay_build import _clean

    value = _clean(value)
    return int(value) if isinstance(value, float) else value


def _header(plan: Replay) -> str:
    t = plan.target
    where = ", ".join(f"`{n}`" for n in plan.notebooks) or "no notebook"
    lines = [f"# Pipeline for `{t.ref}`", "",
             f"Built by `nbops replay` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the lineage of "
             f"**{t.label}**, recorded in {where}. It holds only the tracked cells that produced it, "
             "in the order their values were produced; literal values are in the `parameters` cell.",
             "", "| # | step | original run | cell | execution | reads |", "|---|---|---|---|---|---|"]
    for i, s in enumerate(plan.steps):
        reads = ", ".join(f"`{n}`" for n in sorted(s.producers)) or "—"
        state = " (parameters only)" if s.dropped else ""
        count = _plain(s.run.get("execution_count"))
        lines.append(f"| {i + 1} | {step_name(s)}{state} | {s.run_id} | {_plain(s.run.get('cell_id')) or '—'} "
                     f"| {f'[{count}]' if count is not None else '—'} | {reads} |")
    if plan.left_out:
        names = ", ".join(f"`{_plain(r.get('name')) or r['run_id']}`" for r in plan.left_out)
        lines += ["", f"Left out (tracked in the same notebook, not needed for `{t.ref}`): {names}."]
    if plan.missing:
        lines += ["", "**Hidden state** — inputs that no replayed cell makes:", ""]
        lines += [f"- ⚠ {h.describe()}" for h in plan.missing]
    notes = [h for h in plan.hidden if not h.missing]
    if notes:
        lines += ["", "Notes:", ""] + [f"- {h.describe()}" for h in notes]
    failed = [s for s in plan.steps if s.run.get("status") != "finished"]
    if failed:
        lines += ["", "Runs that failed when they were recorded (their cells may fail here too): "
                  + ", ".join(s.label() for s in failed)]
    return "\n".join(lines)


def render_report(plan: Replay) -> str:
    """What was replayed, what was left out, and what is hidden state."""
    out = [f"replay of {plan.target.label}: {len(plan.steps)} step(s), "
           f"{len(plan.parameters)} parameter(s), {len(plan.left_out)} cell(s) left out"]
    for i, s in enumerate(plan.steps):
        extra = f"  params lifted: {', '.join(a.name for a in s.lifted)}" if s.lifted else ""
        out.append(f"  {i + 1}. {s.label()}{' (parameters only)' if s.dropped else ''}{extra}")
    for r in plan.left_out:
        out.append(f"  left out: {_plain(r.get('name')) or '(unnamed)'} run {r['run_id']}")
    for h in plan.hidden:
        out.append(f"  {'⚠ hidden state' if h.missing else 'note'}: {h.describe()}")
    for s in plan.steps:
        if s.run.get("status") != "finished":
            out.append(f"  ⚠ {s.label()} was recorded as {s.run.get('status')}: {_plain(s.run.get('error'))}")
    if plan.path is not None:
        out.append(f"notebook: {plan.path}")
    if plan.verification is not None:
        out.append(plan.verification.render())
    return "\n".join(out)
