"""``with nbops.track(...)``: the %%track records for a block of a plain Python script."""

from __future__ import annotations

import ast
import sys
import textwrap
from collections.abc import MutableMapping
from functools import lru_cache
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from nbops.tracking.summary import Summary
from nbops.tracking.track import CellContext, TrackedCell, TrackingSession, TrackOptions

if TYPE_CHECKING:
    from nbops.tracking.run import Run
    from nbops.workspace import Workspace


@lru_cache(maxsize=32)
def _parsed(path: str, mtime_ns: int) -> tuple[ast.Module, list[str]] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        return ast.parse(text), text.splitlines()
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def _from_linecache(path: str) -> tuple[ast.Module, list[str]] | None:
    """Code with no file behind it (an IPython/Jupyter cell) is kept in linecache by IPython."""
    import linecache

    text = "".join(linecache.getlines(path))
    try:
        return (ast.parse(text), text.splitlines()) if text else None
    except SyntaxError:
        return None


def with_block_source(frame: FrameType) -> str | None:
    """The body of the ``with`` statement on the frame's current line (a file, or a notebook cell)."""
    import os

    path, line = frame.f_code.co_filename, frame.f_lineno
    try:
        parsed = _parsed(path, os.stat(path).st_mtime_ns)
    except OSError:
        parsed = _from_linecache(path)
    if parsed is None:
        return None
    tree, lines = parsed
    for node in ast.walk(tree):
        if isinstance(node, ast.With | ast.AsyncWith) and node.body:
            head_end = node.body[0].lineno - 1
            if node.lineno <= line <= head_end:
                last = node.body[-1].end_lineno or node.body[-1].lineno
                return textwrap.dedent("\n".join(lines[node.body[0].lineno - 1:last]))
    return None


class ScriptTrack:
    """Context manager returned by :func:`track`; ``as`` gives the :class:`Run`."""

    def __init__(self, session: TrackingSession, ctx: CellContext, options: TrackOptions,
                 ns: MutableMapping[str, Any]) -> None:
        self._args = (session, ctx, options, ns)
        self.cell: TrackedCell | None = None
        self.summary: Summary | None = None

    def __enter__(self) -> Run | None:
        session, ctx, options, ns = self._args
        self.cell = session.begin(ctx, options, ns)
        self.cell.__enter__()
        return self.cell.run

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self.cell is not None
        self.summary = self.cell.finish(exc)
        if not self.cell.options.quiet:
            for line in self.summary.lines():
                print(line, file=sys.stderr)
        # returns None: errors in the block propagate


def track(name: str | None = None, *, namespace: MutableMapping[str, Any] | None = None,
          source: str | None = None, params: list[str] | None = None,
          metrics: list[str] | None = None, data: bool = True, models: bool = True,
          quiet: bool = False, workspace: Workspace | None = None) -> ScriptTrack:
    """Track a block of code as one run, like a ``%%track`` cell.

    ``namespace`` defaults to the caller's globals and ``source`` to the text of
    the ``with`` block (read from the script file). Lineage is kept per
    namespace, so successive blocks in one script see each other's values::

        with nbops.track("train"):
            clf = RandomForestClassifier().fit(X, y)
            acc = clf.score(X_test, y_test)
    """
    frame = sys._getframe(1)
    ns = namespace if namespace is not None else frame.f_globals
    if source is None:
        source = with_block_source(frame)
    session = TrackingSession.for_namespace(ns, workspace)
    if workspace is not None and session._ws is None:
        session._ws = workspace
    path = frame.f_code.co_filename
    ctx = CellContext(source=source, raw=source, notebook=path if not path.startswith("<") else None,
                      cell_id=f"{name or 'block'}@{frame.f_lineno}" if source is not None else None)
    return ScriptTrack(session, ctx, TrackOptions(name, params, metrics, data, models, quiet), ns)
