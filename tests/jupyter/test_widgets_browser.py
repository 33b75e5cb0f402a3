"""JupyterLab in headless Chromium: ``show.runs`` and ``show.ab`` draw their plotly figures in a
real notebook's output. Screenshots of each dashboard are saved in the test's tmp dir (or in
$NBOPS_KEEP_SCREENSHOTS when set).

Uses the sidebar browser test's Chromium and JupyterLab set-up (see test_sidebar_browser).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_sidebar_browser import CHROMIUM, _dismiss_news, _free_port, _wait_ready, page  # noqa: F401

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} is missing: apt-get install chromium (see .ci/sysdeps)"),
]
NOTEBOOK = "dashboards.ipynb"
CELLS = ["from nbops import show\nshow.runs(sort='metric.acc')", "show.ab('retention')"]


def _workspace(root: Path) -> None:
    import nbformat
    from widgets_support import fill, fill_experiment, opened

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nbformat.write(nb, root / NOTEBOOK)
    with opened(root) as ws:
        fill(ws)
        fill_experiment(ws)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "notebooks"
    root.mkdir()
    _workspace(root)
    port = _free_port()
    env = {**os.environ, "NBOPS_USER": "alice", "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    env.pop("NBOPS_HOME", None)
    log = tmp_path / "jupyter.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
             "--ServerApp.token=", "--ServerApp.password=", "--allow-root",
             f"--ServerApp.root_dir={root}"], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _run_cell(page: Any, index: int, shots: Path) -> Any:  # noqa: F811
    """Run one cell and wait for its third plotly figure; on a timeout, keep what the page showed."""
    cell = page.locator(".jp-NotebookPanel .jp-CodeCell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    out = cell.locator(".jp-Cell-outputArea")
    try:
        out.locator(".js-plotly-plot").nth(2).wait_for(timeout=180000)
    except Exception:
        page.screenshot(path=str(shots / f"timeout-cell-{index}.png"), full_page=True)
        raise AssertionError(f"cell {index} drew no figures; its output: {cell.inner_text()[-2000:]}") \
            from None
    return out


def _titles(out: Any, *titles: str) -> None:
    """Wait until every figure title is drawn (plotly draws each figure on its own)."""
    for title in titles:
        out.locator(".gtitle", has_text=title).first.wait_for(timeout=120000)


def _shoot(page: Any, out: Any, path: Path) -> None:  # noqa: F811
    """A screenshot of a whole cell output: the window made tall enough to hold it."""
    height = int(out.bounding_box()["height"]) + 400
    page.set_viewport_size({"width": 1400, "height": max(900, height)})
    out.scroll_into_view_if_needed()
    out.screenshot(path=str(path))
    page.set_viewport_size({"width": 1400, "height": 900})


def test_runs_and_ab_dashboards_render_in_jupyterlab(lab: str, page: Any, tmp_path: Path) -> None:  # noqa: F811
    shots = Path(os.environ.get("NBOPS_KEEP_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    page.goto(f"{lab}/lab/tree/{NOTEBOOK}")
    page.locator(".jp-NotebookPanel").first.wait_for(timeout=60000)
    _dismiss_news(page)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120000)  # the kernel is up

    runs = _run_cell(page, 0, shots)
    _titles(runs, "Metrics over runs", "Metrics over steps", "Parameters → acc")
    _shoot(page, runs, shots / "show-runs.png")
    assert runs.locator(".nbops-runs select option").count() == 6  # the runs table: 4 trainings, 2 registrations

    ab = _run_cell(page, 1, shots)
    _titles(ab, "retention: winner → treatment", "Posterior densities", "Cumulative lift with its confidence sequence")
    _shoot(page, ab, shots / "show-ab.png")
    text = ab.inner_text()
    assert "Decision: winner" in text and "treatment wins" in text and "SRM ok" in text
    assert ab.locator(".legendtext", has_text="always-valid CS: treatment").count() == 1
    print(f"screenshots in {shots}")
