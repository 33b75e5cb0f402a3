"""``replay --verify``: run the replayed notebook as a pipeline and compare it with the originals.

Each replayed step is matched to the run its cell recorded inside the pipeline run
(by run name, in order). For each, the datasets and models it wrote are compared by
content fingerprint, models also by hyperparameters, and its metrics and parameters
by value. A difference is explained as well as the records allow:

* **changed input** — a dataset the step read already differs (look further up);
* **hidden state** — the step read a value no replayed cell makes;
* **non-determinism** — same code, same inputs, different result (an unseeded
  estimator, a clock, a random draw);
* **missing** / **not run** — the replay did not produce it, or stopped before the step.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from nbops.catalog.replay import ReplayRepository
from nbops.pipelines.replay_build import _clean
from nbops.pipelines.replay_notebook import step_name

if TYPE_CHECKING:
    from nbops.pipelines.replay_build import Replay, Step
    from nbops.workspace import Workspace


class Verdict(StrEnum):
    SAME = "same"
    NON_DETERMINISM = "non-determinism"
    CHANGED_INPUT = "changed input"
    HIDDEN_STATE = "hidden state"
    MISSING_INPUT = "missing input"
    MISSING = "missing"
    NOT_RUN = "not run"


@dataclass(frozen=True)
class Check:
    """One compared fact: a dataset, a model, a hyperparameter, a metric or a parameter."""

    step: str
    what: str
    original: str
    replayed: str
    verdict: Verdict


@dataclass
class Verification:
    """The pipeline run of the replayed notebook and how its results compare."""

    pipeline_run_id: str
    status: str
    error: str | None
    checks: list[Check] = field(default_factory=list)

    @property
    def differences(self) -> list[Check]:
        return [c for c in self.checks if c.verdict != Verdict.SAME]

    @property
    def ok(self) -> bool:
        return self.status == "succeeded" and not self.differences

    def render(self) -> str:
        same = len(self.checks) - len(self.differences)
        head = (f"verify: pipeline run {self.pipeline_run_id} {self.status}; "
                f"{len(self.checks)} checks, {same} same, {len(self.differences)} different")
        lines = [head]
        if self.error:
            lines.append(f"  error: {self.error}")
        if not self.differences:
            lines.append("  reproduced: every dataset, model, hyperparameter, metric and parameter matches")
            return "\n".join(lines)
        rows = [("step", "what", "original", "replayed", "why")]
        rows += [(c.step, c.what, c.original, c.replayed, str(c.verdict)) for c in self.differences]
        widths = [min(40, max(len(r[i]) for r in rows)) for i in range(5)]
        for r in rows:
            lines.append("  " + "  ".join(_cut(v, w).ljust(w) for v, w in zip(r, widths, strict=True)))
        return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def verify(ws: Workspace, plan: Replay, *, progress: bool = True) -> Verification:
    """Run ``plan.path`` through :func:`nbops.pipelines.run`; compare with the original runs."""
    from nbops.pipelines.runner import run

    cwd = plan.notebook_files[0].parent if plan.notebook_files else None  # relative paths hold
    assert plan.path is not None
    result = run(plan.path, {}, ws=ws, cwd=cwd, progress=progress)
    error = f"{result.error_name}: {result.error_message}" if result.error_name else None
    found = Verification(result.id, str(result.status), error)
    repo = ReplayRepository(ws.catalog)
    steps = [s for s in plan.steps if not s.dropped]
    pairs = _match(steps, repo.runs_of_pipeline(result.id))
    facts = _Facts(repo, [s.run_id for s in steps] + [r["run_id"] for _, r in pairs if r])
    for step, replayed in pairs:
        found.checks += _compare(step, replayed, facts)
    for h in plan.missing:
        used = (f"snapshot {h.snapshot}" if h.snapshot else f"saved value {h.value}" if h.value
                else "saved definition" if h.code else "—")
        verdict = Verdict.MISSING_INPUT if used == "—" else Verdict.HIDDEN_STATE
        found.checks.append(Check(_step_label(plan, h.run_id), f"input {h.name}", h.reason, used, verdict))
    return found


def _step_label(plan: Replay, run_id: str) -> str:
    return next((step_name(s) for s in plan.steps if s.run_id == run_id), run_id)


def _match(steps: list[Step], replayed: list[dict[str, Any]]) -> list[tuple[Step, dict[str, Any] | None]]:
    """Each step with the pipeline's run of the same name, in order (None when it did not run)."""
    pool = [r for r in replayed if r.get("kind") == "cell"]
    out: list[tuple[Step, dict[str, Any] | None]] = []
    at = 0
    for step in steps:
        name = step_name(step)
        hit = next((i for i in range(at, len(pool)) if _clean(pool[i].get("name")) == name), None)
        out.append((step, pool[hit] if hit is not None else None))
        if hit is not None:
            at = hit + 1
    return out


class _Facts:
    """Artifacts, params and metrics of all compared runs, read with one query each."""

    def __init__(self, repo: ReplayRepository, run_ids: list[str]) -> None:
        self.artifacts: dict[str, list[dict[str, Any]]] = {}
        for a in repo.artifacts(run_ids):
            self.artifacts.setdefault(a["run_id"], []).append(a)
        self.params: dict[str, dict[str, str]] = {}
        for p in repo.params(run_ids):
            self.params.setdefault(p["run_id"], {})[p["key"]] = f"{p['value']} ({p['value_type']})"
        self.metrics: dict[str, dict[str, float]] = {}
        for m in repo.metrics(run_ids):
            self.metrics.setdefault(m["run_id"], {})[m["key"]] = float(m["value"])

    def of(self, run_id: str, role: str) -> dict[str, dict[str, Any]]:
        return {a["name"]: a for a in self.artifacts.get(run_id, []) if a["role"] == role}


def _compare(step: Step, replayed: dict[str, Any] | None, facts: _Facts) -> list[Check]:
    label = step_name(step)
    if replayed is None:
        return [Check(label, "run", "finished", "did not run", Verdict.NOT_RUN)]
    if replayed.get("status") != "finished":
        return [Check(label, "run", "finished", f"failed: {_clean(replayed.get('error'))}", Verdict.NOT_RUN)]
    rid = str(replayed["run_id"])
    why = _explain(step, facts.of(step.run_id, "input"), facts.of(rid, "input"))
    checks = _compare_outputs(label, facts.of(step.run_id, "output"), facts.of(rid, "output"), why)
    checks += _compare_values(label, "metric", facts.metrics.get(step.run_id, {}),
                              facts.metrics.get(rid, {}), why)
    kept = set(step.recorded_params)
    checks += _compare_values(label, "param", {k: v for k, v in facts.params.get(step.run_id, {}).items()
                                               if k in kept}, facts.params.get(rid, {}), why)
    return checks


def _explain(step: Step, original: dict[str, dict[str, Any]], replayed: dict[str, dict[str, Any]]) -> Verdict:
    """Why this step's results would differ: its inputs, hidden state, or the step itself."""
    if any(replayed.get(n, {}).get("fingerprint") != a.get("fingerprint") for n, a in original.items()):
        return Verdict.CHANGED_INPUT
    if any(h.missing for h in step.hidden):
        return Verdict.HIDDEN_STATE
    return Verdict.NON_DETERMINISM


def _compare_outputs(label: str, original: dict[str, dict[str, Any]],
                     replayed: dict[str, dict[str, Any]], why: Verdict) -> list[Check]:
    checks = []
    for name, a in sorted(original.items()):
        b = replayed.get(name)
        what = f"{a['kind']} {name}"
        if b is None:
            checks.append(Check(label, what, _describe(a), "not produced", Verdict.MISSING))
            continue
        if a["kind"] == "model":
            checks += _compare_values(label, f"hyperparameter {name}.", _hyper(a), _hyper(b), why, sep="")
        same = a.get("fingerprint") == b.get("fingerprint")
        checks.append(Check(label, what + (" (fitted state)" if a["kind"] == "model" else ""),
                            _describe(a), _describe(b), Verdict.SAME if same else why))
    return checks


def _compare_values(label: str, kind: str, original: dict[str, Any], replayed: dict[str, Any],
                    why: Verdict, sep: str = " ") -> list[Check]:
    checks = []
    for key, a in sorted(original.items()):
        if key not in replayed:
            checks.append(Check(label, f"{kind}{sep}{key}", _fmt(a), "—", Verdict.MISSING))
            continue
        b = replayed[key]
        same = (math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
                if isinstance(a, float) and isinstance(b, float) else a == b)
        checks.append(Check(label, f"{kind}{sep}{key}", _fmt(a), _fmt(b), Verdict.SAME if same else why))
    return checks


def _hyper(artifact: dict[str, Any]) -> dict[str, Any]:
    meta = _clean(artifact.get("metadata"))
    return dict(json.loads(meta).get("hyperparameters", {})) if meta else {}


def _describe(artifact: dict[str, Any]) -> str:
    version = _clean(artifact.get("version"))
    fp = _clean(artifact.get("fingerprint"))
    shape = _clean(artifact.get("shape"))
    bits = [f"v{int(version)}" if version is not None else "?", f"#{str(fp)[:8]}" if fp else "no fingerprint"]
    if shape:
        bits.append(str(shape))
    return " ".join(bits)


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
