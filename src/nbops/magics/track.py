"""``%%track`` and ``%nbops``: thin IPython wrappers over nbops.tracking."""

from __future__ import annotations

import os
import shlex
from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from nbops.magics import execute
from nbops.tracking.names_ast import analyze
from nbops.tracking.track import CellContext, TrackedCell, TrackingSession, TrackOptions

_NBOPS_USAGE = """usage: %nbops runs | show RUN | diff RUN_A RUN_B | checkout REF [as NAME] |
       restore RUN | status | lineage NAME|RUN|MODEL | autotrack on|off"""


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def _has_await(shell: Any, body: str) -> bool:
    try:
        return analyze(shell.transform_cell(body)).has_await
    except SyntaxError:
        return False


@magics_class
class NbopsMagics(Magics):
    """Holds this kernel's TrackingSession (workspace, lineage, fingerprint cache)."""

    shell: InteractiveShell  # always set: the extension is loaded into a shell

    def __init__(self, shell: Any, session: TrackingSession | None = None) -> None:
        super().__init__(shell)
        self.session = session or TrackingSession(background=True)
        self.autotrack = False
        self._cell: dict[str, Any] = {}  # the running cell's id, raw source, execution count
        self._auto: TrackedCell | None = None
        self.transformer: Any = None

    # -- context from the frontend ------------------------------------------
    def on_pre_run_cell(self, info: Any) -> None:
        meta = (getattr(self.shell, "parent_header", None) or {}).get("metadata", {}) or {}
        count = self.shell.execution_count - 1 if getattr(info, "store_history", False) else None
        self._cell = {"cell_id": getattr(info, "cell_id", None) or meta.get("cellId"),
                      "raw": getattr(info, "raw_cell", None), "execution_count": count}
        if self.autotrack and not getattr(info, "silent", False):
            self._auto_begin(info)

    def on_post_run_cell(self, result: Any) -> None:
        if self._auto is not None:
            cell, self._auto = self._auto, None
            error = result.error_in_exec or result.error_before_exec
            self._show(cell.finish(error).lines() if not cell.options.quiet else [])
        elif self._cell.get("raw") is not None:
            self.session.cell_ran(self._context(None))

    def _notebook(self) -> str | None:
        ns = self.shell.user_ns
        path = ns.get("__vsc_ipynb_file__") or os.environ.get("NBOPS_NOTEBOOK") or os.environ.get(
            "JPY_SESSION_NAME")
        return str(path) if path else None

    def _context(self, source: str | None) -> CellContext:
        hidden = frozenset(self.shell.user_ns_hidden) | {"In", "Out", "get_ipython", "exit", "quit"}
        return CellContext(source=source, raw=self._cell.get("raw"), cell_id=self._cell.get("cell_id"),
                           notebook=self._notebook(), execution_count=self._cell.get("execution_count"),
                           hidden=hidden)

    def _show(self, lines: list[str]) -> None:
        for line in lines:
            print(line)

    # -- %%track ----------------------------------------------------------------
    @magic_arguments()
    @argument("-n", "--name", help="run name")
    @argument("--params", help="comma-separated names to record as parameters (replaces inference)")
    @argument("--metrics", help="comma-separated names to record as metrics (replaces inference)")
    @argument("--no-data", action="store_true", help="do not snapshot datasets")
    @argument("--no-models", action="store_true", help="do not store models")
    @argument("-q", "--quiet", action="store_true", help="no summary line")
    @cell_magic
    def track(self, line: str, cell: str) -> Any:
        """Run the cell and record it as one run: code, data, models, params, metrics, lineage."""
        __tracebackhide__ = True
        options, transformed = self._prepare(line, cell)
        code, expr = execute.compile_body(self.shell, transformed, cell,
                                          number=self._cell.get("execution_count"))
        tracked = self.session.begin(self._context(transformed), options, self.shell.user_ns)
        error: BaseException | None = None
        tracked.__enter__()
        try:
            return execute.run_body(self.shell, code, expr)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._finish(tracked, error)

    async def track_async(self, line: str, cell: str) -> Any:
        """``%%track`` for a body with top-level ``await`` (see nbops.magics.execute)."""
        __tracebackhide__ = True
        options, transformed = self._prepare(line, cell)
        code, expr = execute.compile_body(self.shell, transformed, cell, allow_await=True,
                                          number=self._cell.get("execution_count"))
        tracked = self.session.begin(self._context(transformed), options, self.shell.user_ns)
        error: BaseException | None = None
        tracked.__enter__()
        try:
            return await execute.run_body_async(self.shell, code, expr)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._finish(tracked, error)

    def _prepare(self, line: str, cell: str) -> tuple[TrackOptions, str]:
        args = parse_argstring(self.track, line)
        options = TrackOptions(args.name, _names(args.params), _names(args.metrics),
                               not args.no_data, not args.no_models, args.quiet)
        return options, self.shell.transform_cell(cell)

    def _finish(self, tracked: TrackedCell, error: BaseException | None) -> None:
        summary = tracked.finish(error)
        self._show(summary.lines() if not tracked.options.quiet else
                   [f"⚠ nbops: {w}" for w in summary.warnings])

    # -- autotrack --------------------------------------------------------------
    def _auto_begin(self, info: Any) -> None:
        raw = getattr(info, "raw_cell", "") or ""
        if raw.lstrip().startswith(("%%track", "%nbops", "%load_ext")) or not raw.strip():
            return
        try:
            source = getattr(info, "transformed_cell", None) or self.shell.transform_cell(raw)
            self._auto = self.session.begin(self._context(source), TrackOptions(), self.shell.user_ns)
            self._auto.__enter__()
        except Exception as exc:
            self._auto = None
            self._show([f"⚠ nbops: cell not tracked: {exc}"])

    # -- %nbops -----------------------------------------------------------------
    @line_magic
    def nbops(self, line: str) -> Any:
        """%nbops runs | show RUN | diff A B | checkout REF [as NAME] | restore RUN | status |
        lineage NAME|RUN|MODEL | autotrack on|off"""
        from nbops.magics.commands import dispatch

        words = shlex.split(line)
        if not words:
            print(_NBOPS_USAGE)
            return None
        return dispatch(self, words[0], words[1:])
