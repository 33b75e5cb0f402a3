"""``make demo``: the whole MLOps loop on the embedded catalog, headless, in ./demo-workspace.

train and compare models with ``%%track`` → register and promote the best under a policy
with an approval → schedule a parameterized retraining notebook → serve production and a
challenger in an A/B experiment to simulated users over HTTP → log predictions and delayed
outcomes → shift the data so drift fires an alert → the alert triggers the retraining → the
retrained model passes its validation gates → the experiment's report names the winner →
promotion under policy → ``nbops audit verify``. Ends with a summary and an HTML report.
"""

from __future__ import annotations

import os
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbops.workspace import Workspace

EXAMPLES = Path(__file__).resolve().parents[3] / "example_notebooks"


@dataclass
class Demo:
    """What the steps share: the workspace, facts for the summary, sections for the report."""

    root: Path
    ws: Workspace
    facts: dict[str, Any] = field(default_factory=dict)
    sections: list[tuple[str, str]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def say(self, line: str) -> None:
        print(f"    {line}", flush=True)

    def section(self, title: str, html: str) -> None:
        self.sections.append((title, html))


@dataclass
class StepResult:
    label: str
    seconds: float
    ok: bool
    error: str | None = None


def _bar(i: int, n: int, label: str) -> str:
    width = 20
    done = int(width * i / n)
    return f"[{'#' * done}{'.' * (width - done)}] {i}/{n} {label}"


def _steps() -> list[tuple[str, Callable[[Demo], bool]]]:
    from nbops.demo import loop, steps

    return [
        ("train and compare models with %%track", steps.train),
        ("register and promote the best under a policy", steps.govern),
        ("schedule the retraining notebook", steps.schedule),
        ("A/B test production vs challenger over HTTP", loop.ab_test),
        ("shift the data: drift fires an alert", loop.drift),
        ("the alert triggers retraining; gates decide", loop.retrain),
        ("the experiment names the winner; promote", loop.conclude),
        ("verify the audit chain", steps.audit),
    ]


def run_steps(demo: Demo, steps: list[tuple[str, Callable[[Demo], bool]]]) -> list[StepResult]:
    results = []
    for i, (label, fn) in enumerate(steps):
        print(f"\n{_bar(i, len(steps), label)}", flush=True)
        t0 = time.perf_counter()
        try:
            ok, error = bool(fn(demo)), None
        except Exception as exc:  # a broken step is reported; the next ones still try
            ok, error = False, f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        results.append(StepResult(label, time.perf_counter() - t0, ok, error))
        print(f"    {'ok' if ok else 'FAILED'} in {results[-1].seconds:.1f} s"
              + (f": {error}" if error else ""), flush=True)
    print(_bar(len(steps), len(steps), "done"))
    return results


def main(directory: str = "demo-workspace") -> int:
    import nbops

    root = Path(directory).resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    os.environ["NBOPS_HOME"] = str(root / ".nbops")  # the tracked cells and kernels use it too
    os.environ.setdefault("NBOPS_USER", "demo-dana")
    t0 = time.perf_counter()
    print(f"nbops demo: the whole loop in {root}")
    ws = nbops.open(root)
    demo = Demo(root, ws)
    try:
        results = run_steps(demo, _steps())
    finally:
        from nbops.demo.report import summary, write_report

        for cleanup in reversed(demo.cleanups):  # e.g. stop the model server
            cleanup()
        total = time.perf_counter() - t0
        report = write_report(demo, results if "results" in locals() else [], total)
        ws.close()
    print(summary(demo, results, total, report, directory))
    return 0 if all(r.ok for r in results) else 1
