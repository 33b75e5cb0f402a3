"""The documentation cannot drift from the code.

- Every docs/*.md page's ```python, ```ipython and ```console (`$ nbops ...` lines) blocks run,
  in order, in a fresh workspace (tests/docs_runner.py, one process per page); a failure names
  the page and the line of the block.
- docs/cli.md, docs/magics.md and the schema section of docs/sql.md equal what `make docs`
  generates from the code.
- Every relative link in README.md and docs/*.md points at a file that exists, every page is
  linked from the README, and every example notebook is executed by some test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
RUNNER = Path(__file__).with_name("docs_runner.py")


def _env() -> dict[str, str]:
    src = str(ROOT / "src")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}


def _runnable(page: Path) -> bool:
    sys.path.insert(0, str(RUNNER.parent))
    from docs_runner import RUN_KINDS, blocks

    return any(b.kind in RUN_KINDS for b in blocks(page.read_text()))


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_code_blocks_run(page: Path) -> None:
    if not _runnable(page):
        return  # nothing to execute (text, tables, generated reference)
    proc = subprocess.run([sys.executable, str(RUNNER), str(page)], capture_output=True, text=True,
                          env=_env(), cwd=ROOT, timeout=600)
    failed = [line for line in proc.stderr.splitlines() if line.startswith("FAILED ")]
    assert proc.returncode == 0, "\n".join(failed or [f"docs/{page.name}: the runner failed"]) + \
        f"\n\n{proc.stderr[-6000:]}"


def test_generated_reference_is_current() -> None:
    """docs/cli.md, docs/magics.md and the schema section of docs/sql.md."""
    proc = subprocess.run([sys.executable, "-m", "nbops.cli.reference", "--check", str(DOCS)],
                          capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=["README.md", *[p.name for p in PAGES]])
def test_relative_links_resolve(page: Path) -> None:
    missing = []
    for target in _LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            missing.append(target)
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"


def test_every_page_is_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    unlinked = [p.name for p in PAGES if f"docs/{p.name}" not in readme]
    assert not unlinked, f"README.md's documentation list does not link {unlinked}"


def test_runner_names_the_failing_block(tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    page.write_text("# t\n\n```python\nx = 1\n```\n\ntext\n\n```python\nassert x == 2, 'x is not 2'\n```\n")
    proc = subprocess.run([sys.executable, str(RUNNER), str(page)], capture_output=True, text=True,
                          env=_env(), timeout=300)
    assert proc.returncode == 1
    assert "FAILED broken.md:9: the ```python block starting at line 9 failed: AssertionError: x is not 2" \
        in proc.stderr


def test_every_example_notebook_is_executed_by_a_test() -> None:
    """Each example_notebooks/*.ipynb is named by a test module (which runs it through papermill)."""
    tests = "\n".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py") if p.name != "test_docs.py")
    notebooks = sorted((ROOT / "example_notebooks").glob("*.ipynb"))
    assert notebooks
    untested = [nb.name for nb in notebooks if nb.name not in tests]
    assert not untested, f"example notebooks no test executes: {untested}"
