"""The papermill side of a run: a papermill engine that uses nbops's kernel manager and reports cells.

Imported only when a notebook is executed: papermill and nbformat take
seconds to import, and ``nbops --help`` must stay fast.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbops.pipelines.kernel import KernelGuard, kernel_manager_class

ENGINE_NAME = "nbops"


@dataclass
class CellProgress:
    """Which cell is running; calls ``report(line)`` once per finished code cell."""

    report: Callable[[str], None] | None = None
    guard: KernelGuard | None = None
    total: int = 0
    current: int | None = None
    current_id: str | None = None
    started: float = 0.0
    timings: list[tuple[int, float]] = field(default_factory=list)

    def start(self, index: int | None, cell_id: str | None = None) -> None:
        self.current, self.current_id = index, cell_id
        self.started = time.perf_counter()

    def done(self, cell: Any, index: int | None, failed: bool) -> None:
        if index is None or cell.get("cell_type") != "code":
            return
        elapsed = time.perf_counter() - self.started
        self.timings.append((index, elapsed))
        if self.report is not None:
            killed = self.guard.reason if self.guard is not None else None
            tag = killed or ("failed" if failed else "ok")
            first = next((ln for ln in str(cell.get("source", "")).splitlines() if ln.strip()), "")
            self.report(f"  [{index:>3}] {tag:<11} {elapsed:7.2f} s  {first[:60]}")


def _engine_class() -> type:
    from papermill.engines import NBClientEngine

    class NbopsEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            progress: CellProgress = kwargs.pop("nbops_progress")
            progress.total = len(nb_man.nb.cells)
            failed: set[int] = set()
            cell_start, cell_exception, cell_complete = (
                nb_man.cell_start, nb_man.cell_exception, nb_man.cell_complete)

            def on_start(cell: Any, cell_index: int | None = None, **kw: Any) -> None:
                progress.start(cell_index, cell.get("id"))
                cell_start(cell, cell_index, **kw)

            def on_exception(cell: Any, cell_index: int | None = None, **kw: Any) -> None:
                failed.add(cell_index if cell_index is not None else -1)
                cell_exception(cell, cell_index, **kw)

            def on_complete(cell: Any, cell_index: int | None = None, **kw: Any) -> None:
                cell_complete(cell, cell_index, **kw)
                progress.done(cell, cell_index, cell_index in failed)

            nb_man.cell_start, nb_man.cell_exception, nb_man.cell_complete = (
                on_start, on_exception, on_complete)
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return NbopsEngine


_registered = False


def _register() -> None:
    global _registered
    if not _registered:
        from papermill.engines import papermill_engines

        papermill_engines.register(ENGINE_NAME, _engine_class())
        _registered = True


def default_kernel(input_path: str, kernel: str | None) -> str:
    """The kernel to use: the one asked for, the notebook's own, or ``python3``."""
    if kernel:
        return kernel
    import nbformat

    nb = nbformat.read(input_path, as_version=4)
    return str(nb.metadata.get("kernelspec", {}).get("name") or "python3")


def execute(input_path: str, output_path: str, parameters: dict[str, Any], *, kernel: str,
            cwd: str | None, env: dict[str, str], cell_timeout: float | None,
            guard: KernelGuard, progress: CellProgress, kernel_log: Path | None = None,
            start_timeout: float = 60) -> None:
    """Run the notebook through papermill; papermill's own exceptions propagate."""
    import papermill as pm

    _register()
    pm.execute_notebook(
        input_path, output_path, parameters=parameters, engine_name=ENGINE_NAME,
        kernel_name=kernel, progress_bar=False, start_timeout=start_timeout,
        execution_timeout=cell_timeout,
        kernel_manager_class=kernel_manager_class(env, cwd, guard, kernel_log,
                                                  cell_id=lambda: progress.current_id),
        nbops_progress=progress,
        # Widget state embeds plotly.js (~5 MB per figure); outputs keep their HTML fallback.
        store_widget_state=False,
    )
