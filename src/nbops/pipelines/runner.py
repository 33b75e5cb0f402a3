"""Run one notebook as a tracked pipeline run (papermill underneath).

A run is recorded twice in the catalog, append-only: a ``running`` row when it
starts (so the sidebar, ``nbops pipeline runs`` and the scheduler see it) and
a row with the final state when it ends; ``v_pipeline_runs`` shows the latest.
The kernel gets ``NBOPS_PIPELINE_RUN_ID`` and ``NBOPS_HOME`` in its
environment, so runs recorded inside the notebook attach to this pipeline run.

``timeout`` bounds the whole run (papermill's own timeout is per cell and is
``cell_timeout`` here): a watchdog kills the kernel's process group when it
expires. A kernel that dies for any other reason (out of memory, ``kill``) is
reported as ``killed``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbops.catalog.pipeline_records import PipelineRunRow, PipelineStatus
from nbops.catalog.records import ObjectRow
from nbops.errors import NbopsError, NotFound
from nbops.pipelines.kernel import KernelGuard, tail
from nbops.pipelines.params import check_parameters
from nbops.tracking.run import new_run_id

if TYPE_CHECKING:
    from nbops.catalog.pipelines import PipelineRepository
    from nbops.workspace import Workspace

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
Reporter = Callable[[str], None]


@dataclass(frozen=True)
class PipelineRun:
    """The outcome of a pipeline run (the latest catalog row of it)."""

    row: PipelineRunRow

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)

    @property
    def id(self) -> str:
        return self.row.pipeline_run_id

    @property
    def ok(self) -> bool:
        return self.row.status == PipelineStatus.SUCCEEDED

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(json.loads(self.row.parameters))

    def raise_for_status(self) -> PipelineRun:
        if not self.ok:
            raise PipelineRunFailed(self)
        return self


class PipelineRunFailed(NbopsError):
    """A pipeline run ended in any state but succeeded; carries the run."""

    def __init__(self, run: PipelineRun) -> None:
        self.run = run
        r = run.row
        where = f" in cell [{r.error_cell_index}]" if r.error_cell_index is not None else ""
        what = f": {r.error_name}: {r.error_message}" if r.error_name else ""
        super().__init__(f"pipeline run {r.pipeline_run_id} {r.status}{where}{what}",
                         hint=f"see `nbops pipeline show {r.pipeline_run_id}`")


@dataclass
class RunControl:
    """Lets another thread stop a run: ``kill(reason)`` kills its kernel (e.g. on shutdown)."""

    guard: KernelGuard | None = None
    pipeline_run_id: str | None = None

    def kill(self, reason: str = PipelineStatus.INTERRUPTED) -> None:
        if self.guard is not None:
            self.guard.kill(reason)


def _now() -> datetime:
    return datetime.now(UTC)


def _reporter(progress: bool | Reporter) -> Reporter | None:
    if callable(progress):
        return progress
    if progress:
        return lambda line: print(line, file=sys.stderr, flush=True)
    return None


def _relative_to_root(path: Path, ws: Workspace) -> str:
    root = ws.settings.home.resolve().parent
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path.resolve())


def resolve_notebook(notebook: str | Path, ws: Workspace) -> Path:
    """A notebook path as given, or relative to the workspace root (how schedules store them)."""
    path = Path(notebook).expanduser()
    if not path.is_absolute() and not path.exists():
        path = ws.settings.home.resolve().parent / path
    if not path.is_file():
        raise NotFound(f"no notebook {notebook}", hint="give the path of an .ipynb file")
    return path


def run(notebook: str | Path, parameters: Mapping[str, Any] | None = None, *,
        ws: Workspace | None = None, timeout: float | None = None,
        cell_timeout: float | None = None, kernel: str | None = None,
        cwd: str | Path | None = None, output: str | Path | None = None,
        progress: bool | Reporter = True, schedule: str | None = None,
        slot_key: str | None = None, attempt: int = 1,
        control: RunControl | None = None) -> PipelineRun:
    """Execute ``notebook`` with papermill as a recorded pipeline run; return its final record.

    Parameters
    ----------
    notebook : path of the ``.ipynb``; parameters go into its ``parameters``-tagged cell.
    parameters : values injected by papermill (JSON-representable).
    timeout : seconds for the whole run; the kernel is killed when it expires.
    cell_timeout : seconds for any single cell (papermill's ``execution_timeout``).
    kernel : kernel name; default the notebook's own, else ``python3``.
    cwd : working directory of the kernel; default the notebook's directory.
    output : also keep the executed notebook at this path (it is always stored in the
        object store; its key is ``output_key``).
    progress : print one line per cell to stderr, or call this function with each line.
    """
    if ws is None:
        from nbops.workspace import Workspace

        ws = Workspace.open()
    from nbops.catalog.pipelines import PipelineRepository

    return _Execution(ws, PipelineRepository(ws.catalog), resolve_notebook(notebook, ws),
                      check_parameters(parameters or {}), timeout=timeout,
                      cell_timeout=cell_timeout, kernel=kernel,
                      cwd=Path(cwd) if cwd else None, output=Path(output) if output else None,
                      report=_reporter(progress), schedule=schedule, slot_key=slot_key,
                      attempt=attempt, control=control or RunControl()).execute()


class _Execution:
    """One execution: the running row, papermill under a watchdog, then the final row."""

    def __init__(self, ws: Workspace, repo: PipelineRepository, notebook: Path,
                 parameters: dict[str, Any], *, timeout: float | None, cell_timeout: float | None,
                 kernel: str | None, cwd: Path | None, output: Path | None,
                 report: Reporter | None, schedule: str | None, slot_key: str | None,
                 attempt: int, control: RunControl) -> None:
        self.ws, self.repo, self.notebook, self.parameters = ws, repo, notebook, parameters
        self.timeout, self.cell_timeout, self.kernel = timeout, cell_timeout, kernel
        self.cwd = (cwd or notebook.parent).resolve()
        if not self.cwd.is_dir():
            raise NotFound(f"no directory {self.cwd}", hint="--cwd must be an existing directory")
        self.output, self.report, self.control = output, report, control
        self.run_id = new_run_id()
        self.guard = KernelGuard()
        control.guard, control.pipeline_run_id = self.guard, self.run_id
        self.work = ws.settings.home / "pipeline-runs" / f"{self.run_id}.ipynb"
        self.kernel_log = ws.settings.home / "logs" / "kernels" / f"{self.run_id}.log"
        self.row = PipelineRunRow(
            pipeline_run_id=self.run_id, notebook=_relative_to_root(notebook, ws),
            parameters=json.dumps(parameters, sort_keys=True), status=PipelineStatus.RUNNING,
            started_at=_now(), ended_at=None, duration_ms=None, attempt=attempt,
            schedule_name=schedule, slot_key=slot_key, kernel=kernel, cwd=str(self.cwd),
            user_name=ws.settings.user, host=socket.gethostname(), pid=os.getpid(),
            output_key=None, error_cell_index=None, error_name=None, error_message=None,
            error_traceback=None, recorded_at=_now())

    def _say(self, line: str) -> None:
        if self.report is not None:
            self.report(line)

    def execute(self) -> PipelineRun:
        from nbops.pipelines import _engine

        kernel = _engine.default_kernel(str(self.notebook), self.kernel)
        self.row = replace(self.row, kernel=kernel)
        self.repo.save_run_state(self.row)
        self._say(f"nbops: pipeline run {self.run_id}: {self.row.notebook} (kernel {kernel}, "
                  f"attempt {self.row.attempt}); cells by index:")
        self.work.parent.mkdir(parents=True, exist_ok=True)
        # The kernel's %%track cells attach to this pipeline run and name their notebook.
        env = {**os.environ, "NBOPS_PIPELINE_RUN_ID": self.run_id,
               "NBOPS_HOME": str(self.ws.settings.home),
               "NBOPS_NOTEBOOK": str(Path(self.notebook).resolve())}
        progress = _engine.CellProgress(report=self.report, guard=self.guard)
        watchdog = self._watchdog()
        t0 = time.perf_counter()
        outcome: dict[str, Any] = {"status": PipelineStatus.SUCCEEDED}
        interrupted: BaseException | None = None
        try:
            _engine.execute(str(self.notebook), str(self.work), self.parameters, kernel=kernel,
                            cwd=str(self.cwd), env=env, cell_timeout=self.cell_timeout,
                            guard=self.guard, progress=progress, kernel_log=self.kernel_log)
        except KeyboardInterrupt as exc:
            self.guard.kill(PipelineStatus.INTERRUPTED)
            outcome = _describe_failure(exc, self.guard, progress)
            interrupted = exc
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, then reported
            outcome = _describe_failure(exc, self.guard, progress)
        finally:
            if outcome["status"] == PipelineStatus.KILLED:
                outcome["error_traceback"] = tail(self.kernel_log)
            elif outcome["status"] == PipelineStatus.SUCCEEDED:
                self.kernel_log.unlink(missing_ok=True)
            if watchdog is not None:
                watchdog.cancel()
            self.guard.cleanup()
        final = self._finish(outcome, (time.perf_counter() - t0) * 1000)
        if interrupted is not None:
            raise interrupted
        return final

    def _watchdog(self) -> threading.Timer | None:
        if not self.timeout:
            return None
        timer = threading.Timer(self.timeout, self.guard.kill, args=(PipelineStatus.TIMEOUT,))
        timer.daemon = True
        timer.start()
        return timer

    def _finish(self, outcome: dict[str, Any], elapsed_ms: float) -> PipelineRun:
        key, obj = self._store_output()
        self.row = replace(self.row, ended_at=_now(), duration_ms=elapsed_ms, output_key=key,
                           recorded_at=_now(), **outcome)
        self.repo.save_run_state(self.row, obj)
        r = self.row
        line = f"nbops: pipeline run {r.pipeline_run_id} {r.status} in {elapsed_ms / 1000:.1f} s"
        if r.error_name:
            line += f" (cell [{r.error_cell_index}] {r.error_name}: {r.error_message})"
        self._say(line)
        return PipelineRun(self.row)

    def _store_output(self) -> tuple[str | None, ObjectRow | None]:
        if not self.work.is_file():
            return None, None
        data = self.work.read_bytes()
        key, _ = self.ws.store.put(data)
        if self.output is not None:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            self.output.write_bytes(data)
        self.work.unlink(missing_ok=True)
        return key, ObjectRow(key, None, "ipynb", len(data), _now())


def _describe_failure(exc: BaseException, guard: KernelGuard, progress: Any) -> dict[str, Any]:
    """Status and error fields for a failed run, from papermill's/nbclient's exception."""
    name = type(exc).__name__
    cell = getattr(exc, "cell_index", None)
    if cell is None:
        cell = progress.current
    fields: dict[str, Any] = {"error_cell_index": cell, "error_name": name,
                              "error_message": str(exc).strip()[:2000], "error_traceback": None}
    if name == "PapermillExecutionError":
        fields.update(error_name=exc.ename, error_message=str(exc.evalue),  # type: ignore[attr-defined]
                      error_traceback=_ANSI.sub("", "\n".join(exc.traceback)))  # type: ignore[attr-defined]
    if guard.reason is not None:
        status = PipelineStatus(guard.reason)
        return {"status": status, **fields, "error_message": _kill_message(status, cell),
                "error_name": "RunTimeout" if status == PipelineStatus.TIMEOUT else "Interrupted"}
    if name == "DeadKernelError":
        sig = guard.exit_signal()
        how = f"killed by signal {sig}" if sig else "exited"
        hint = " (signal 9 usually means the out-of-memory killer)" if sig == 9 else ""
        return {"status": PipelineStatus.KILLED, **fields,
                "error_message": f"the kernel died while running cell [{cell}]: {how}{hint}"}
    if name == "CellTimeoutError":
        return {"status": PipelineStatus.TIMEOUT, **fields}
    if isinstance(exc, KeyboardInterrupt):
        return {"status": PipelineStatus.INTERRUPTED, **fields, "error_message": "interrupted"}
    return {"status": PipelineStatus.FAILED, **fields}


def _kill_message(reason: PipelineStatus, cell: int | None) -> str:
    return {
        PipelineStatus.TIMEOUT: f"the run exceeded its timeout in cell [{cell}]; the kernel was killed",
        PipelineStatus.INTERRUPTED: f"the run was interrupted in cell [{cell}]; the kernel was killed",
    }.get(reason, f"the kernel was killed in cell [{cell}]")
