"""Executes one documentation page's code blocks, in order, in a fresh workspace.

``python tests/docs_runner.py docs/PAGE.md`` (tests/test_docs.py runs it once per page, each
in its own process, so pages never share a workspace, a cache or a background thread):

- a temporary project directory becomes the current directory and ``NBOPS_HOME``, with
  ``nbops init`` done and the environment cleaned as the tests' ``workspace`` fixture does;
- ```` ```python ```` blocks must be plain Python; they and ```` ```ipython ```` blocks (magics:
  ``%load_ext nbops``, ``%%track``, ``%nbops``) run, in page order, as cells of one real
  IPython shell, so later blocks see the names earlier ones defined (a page loads the
  extension itself, with a ``%load_ext nbops`` block, as a user would);
- in ```` ```console ```` blocks, each ``$ nbops ...`` line (``\\`` continues it, ``#`` starts
  a comment) runs through the click command in the same process and must exit 0; other ``$``
  lines (``pip install``) and the lines without ``$`` (output) are shown only;
- every other fence (``text``, ``sh``, ``toml``, ``sql``, none) is shown only.

On the first failure it prints ``PAGE:LINE`` of the block, its kind and the error, and exits 1.
``NBOPS_DOCS_TIMES=1`` prints each block's time.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUN_KINDS = ("python", "ipython", "console")
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_ENV_VARS = ("NBOPS_HOME", "NBOPS_CATALOG", "NBOPS_DATA_PATH", "NBOPS_STORE", "NBOPS_USER",
             "NBOPS_S3_ENDPOINT", "NBOPS_PIPELINE_RUN_ID", "NBOPS_NOTEBOOK", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN", "AWS_PROFILE")


@dataclass(frozen=True)
class Block:
    kind: str  # the fence's language word ("" when none)
    line: int  # 1-based line of the opening fence
    source: str


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, with the line of their opening fence."""
    found: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, start = m["fence"], i
        body: list[str] = []
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(fence) and
                                      set(lines[i].strip()) == {fence[0]}):
            body.append(lines[i])
            i += 1
        kind = (m["info"].strip().split() or [""])[0].lower()
        found.append(Block(kind, start + 1, "\n".join(body) + "\n"))
        i += 1
    return found


def console_commands(source: str) -> list[str]:
    """The ``$ nbops ...`` command lines of a console block (``\\`` continuations joined)."""
    commands: list[str] = []
    current: str | None = None
    for line in source.splitlines():
        if current is not None:
            current += " " + line.strip()
        elif line.startswith("$ "):
            current = line[2:].strip()
        else:
            continue
        if current.endswith("\\"):
            current = current[:-1].rstrip()
            continue
        if current.startswith("nbops ") or current == "nbops":
            commands.append(current)
        current = None
    return commands


class PageRunner:
    """One IPython shell and one workspace for one page."""

    def __init__(self) -> None:
        from IPython.testing.globalipapp import get_ipython

        self.shell: Any = get_ipython()
        self.shell.reset(new_session=False)

    def run(self, block: Block) -> None:
        if block.kind == "console":
            for command in console_commands(block.source):
                self._nbops(command)
            return
        if block.kind == "python":
            compile(block.source, f"<{block.kind} block>", "exec")  # plain Python, no magics
        self._flush()
        result = self.shell.run_cell(block.source, store_history=True)
        if not result.success:
            raise result.error_in_exec or result.error_before_exec or RuntimeError("cell failed")

    def _nbops(self, command: str) -> None:
        from click.testing import CliRunner

        from nbops.cli import main

        self._flush()
        out = CliRunner().invoke(main, shlex.split(command, comments=True)[1:], prog_name="nbops")
        print(out.output, end="")
        if out.exit_code != 0:
            detail = "".join(traceback.format_exception(out.exception)) if out.exception and not \
                isinstance(out.exception, SystemExit) else ""
            raise RuntimeError(f"`{command}` exited with {out.exit_code}\n{out.output}{detail}")

    def _flush(self) -> None:
        magics = self.shell.magics_manager.registry.get("NbopsMagics")
        if magics is not None:
            magics.session.flush()  # %%track commits in the background

    def close(self) -> None:
        magics = self.shell.magics_manager.registry.get("NbopsMagics")
        if magics is not None:
            magics.session.flush()
            self.shell.run_line_magic("unload_ext", "nbops")


def prepare_workspace(root: Path) -> Path:
    """A project directory with ``nbops init`` done, as the current directory and NBOPS_HOME."""
    for name in _ENV_VARS:
        os.environ.pop(name, None)
    os.environ["NBOPS_USER"] = "tester"
    project = root / "project"
    project.mkdir()
    os.chdir(project)
    os.environ["NBOPS_HOME"] = str(project / ".nbops")
    from nbops.config import init_workspace, load_settings
    from nbops.workspace import Workspace

    Workspace(load_settings(init_workspace(project))).close()
    return project


def run_page(page: Path) -> int:
    page = page.resolve()
    todo = [b for b in blocks(page.read_text()) if b.kind in RUN_KINDS]
    name = f"docs/{page.name}" if page.parent.name == "docs" else page.name
    start = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="nbops-docs-") as tmp:
        prepare_workspace(Path(tmp))
        runner = PageRunner()
        try:
            for block in todo:
                started = time.perf_counter()
                try:
                    runner.run(block)
                except BaseException as exc:  # noqa: BLE001 - reported with the page's line
                    tb = "".join(traceback.format_exception(exc))
                    where = f"{name}:{block.line}: the ```{block.kind} block starting at line {block.line} failed"
                    print(f"\n{where}\n{block.source}\n{tb}\nFAILED {where}: "
                          f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                          file=sys.stderr)
                    return 1
                if os.environ.get("NBOPS_DOCS_TIMES"):
                    print(f"{name}:{block.line}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        finally:
            runner.close()
            os.chdir(start)
    print(f"{name}: {len(todo)} blocks ran")
    return 0


if __name__ == "__main__":
    sys.exit(run_page(Path(sys.argv[1])))
