"""JupyterLab in headless Chromium: the nbops sidebar shows a notebook's runs and models, and a
promotion by a user without the role is refused in the UI; a firing alert puts a badge on the
tab, an experiment shows its decision, a run's code is highlighted and diffed, a model card
and a pipeline run's output notebook open.

Needs Debian's chromium (`.ci/sysdeps` installs it) and the built extension
(`make labextension`); playwright drives the system browser (no browser download).
Screenshots of each step are saved in the test's tmp dir.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sidebar_support import (
    add_alerts_and_experiment,
    add_many_runs,
    add_pipeline_run,
    build_workspace,
)

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MANY = 10_000
BUILT = Path(__file__).resolve().parents[2] / "src" / "nbops" / "labextension"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} is missing: apt-get install chromium (see .ci/sysdeps)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"jupyter lab exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"jupyter lab did not start in {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def lab_server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    assert (BUILT / "static" / "style.js").is_file(), \
        f"the JupyterLab extension is not built in {BUILT}: run `make labextension`"
    root = tmp_path / "notebooks"
    root.mkdir()
    data = build_workspace(root)
    add_many_runs(root, MANY)  # another notebook's: the panel pages through them
    t0 = time.perf_counter()
    data.update(add_alerts_and_experiment(root))
    add_pipeline_run(root)
    print(f"nbops sidebar: alerts, experiment and pipeline run set up in {time.perf_counter() - t0:.1f} s")
    jpath = tmp_path / "jupyter-data"
    (jpath / "labextensions").mkdir(parents=True)
    (jpath / "labextensions" / "nbops-jupyterlab").symlink_to(BUILT)
    config = tmp_path / "jupyter-config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"nbops.server": True}}}))
    port = _free_port()
    env = {**os.environ, "NBOPS_USER": "bob", "JUPYTER_PATH": str(jpath),
           "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
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
        yield {"url": url, "log": log, **data}
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tmp_path / "chromium-profile"
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1400, "height": 900})
        try:
            yield ctx.pages[0] if ctx.pages else ctx.new_page()
        finally:
            ctx.close()


def _dismiss_news(page: Any) -> None:
    toast = page.locator(".jp-Notification-Toast-Close, .jp-toast-button:has-text('No')")
    try:
        toast.first.click(timeout=5000)
    except Exception:  # no toast this time
        pass


def test_sidebar_shows_runs_and_models_and_refuses_promotion(lab_server: dict[str, Any], page: Any,
                                                             tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page.goto(f"{lab_server['url']}/lab/tree/{lab_server['notebook']}")
    page.locator(".jp-NotebookPanel").first.wait_for(timeout=60000)
    _dismiss_news(page)
    page.locator(".lm-TabBar-tab[data-id='nbops-sidebar']").click()
    runs = page.locator("#nbops-sidebar .nbops-run")
    runs.first.wait_for(timeout=30000)
    page.screenshot(path=str(shots / "0-opened.png"))
    dialogs = page.locator(".jp-Dialog")
    assert dialogs.count() == 0, dialogs.first.inner_text()
    assert runs.count() == 3
    assert "train-2" in runs.first.inner_text()  # newest first
    assert runs.first.locator(".nbops-hidden").count() == 1  # the hidden-state flag
    assert "1–3 of 3" in page.locator("#nbops-sidebar .nbops-page").inner_text()
    model = page.locator("#nbops-sidebar .nbops-model[data-model='clf']")
    assert "2 version(s)" in model.inner_text()
    page.screenshot(path=str(shots / "1-sidebar.png"))
    _timed(_alerts_and_experiments, page, shots)

    # Run the notebook's %%track cell: its run appears at the top of the list.
    page.locator(".jp-NotebookPanel .jp-Cell").first.click()
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    live = page.locator("#nbops-sidebar .nbops-run", has_text="live")
    live.wait_for(timeout=90000)
    assert "live" in runs.first.inner_text() and runs.count() == 4
    page.screenshot(path=str(shots / "2-tracked-cell.png"))

    # All runs: 10,000 more, 50 a page. The time to first paint goes to the log (no assertion).
    page_text = page.locator("#nbops-sidebar .nbops-page")
    t0 = time.perf_counter()
    page.locator("#nbops-sidebar button", has_text="All runs").click()
    page.locator("#nbops-sidebar .nbops-page", has_text=f"of {MANY + 4}").wait_for(timeout=30000)
    paint_ms = (time.perf_counter() - t0) * 1000
    api_ms = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter(e => e.name.includes('/nbops/api/v1/runs?')).map(e => e.duration).pop()""")
    print(f"nbops sidebar: first paint of {MANY + 4} runs (page of 50) in {paint_ms:.0f} ms "
          f"(click to painted; the runs request took {api_ms:.0f} ms)")
    assert runs.count() == 50 and page_text.inner_text() == f"1–50 of {MANY + 4}"
    page.locator("#nbops-sidebar button", has_text="Next").click()
    page.locator("#nbops-sidebar .nbops-page", has_text="51–100").wait_for(timeout=30000)
    page.screenshot(path=str(shots / "3-all-runs-page-2.png"))
    page.locator("#nbops-sidebar button", has_text="This notebook").click()
    page.locator("#nbops-sidebar .nbops-page", has_text="1–4 of 4").wait_for(timeout=30000)

    live.click()
    code = page.locator("#nbops-sidebar .nbops-code")
    code.wait_for(timeout=15000)
    assert "score = alpha * 2" in code.inner_text()
    # The run's cell becomes the notebook's active cell.
    assert "%%track -n live" in page.locator(".jp-NotebookPanel .jp-Cell.jp-mod-active").inner_text()
    assert "alpha" in page.locator("#nbops-sidebar .nbops-run-detail").inner_text()
    _timed(_highlighted_code_and_diff, page, shots)

    page.locator("#nbops-sidebar .nbops-back").click()
    page.locator("#nbops-sidebar .nbops-model[data-model='clf']").click()
    page.locator("#nbops-sidebar .nbops-model-detail").wait_for(timeout=15000)
    page.locator("#nbops-sidebar .nbops-promote").nth(1).click()  # v2 -> prod, as bob
    refusal = page.locator("#nbops-sidebar .nbops-refusal")
    refusal.wait_for(timeout=15000)
    text = refusal.inner_text()
    assert text.startswith("Refused") and "bob" in text, text
    page.screenshot(path=str(shots / "5-promote-refused.png"))
    _timed(_card_experiment_output, page, shots)
    print(f"screenshots in {shots}")
    if os.environ.get("NBOPS_KEEP_SCREENSHOTS"):
        shutil.copytree(shots, os.environ["NBOPS_KEEP_SCREENSHOTS"], dirs_exist_ok=True)


def _timed(step: Any, page: Any, shots: Path) -> None:
    t0 = time.perf_counter()
    step(page, shots)
    print(f"nbops sidebar: {step.__name__.strip('_')} took {time.perf_counter() - t0:.1f} s")


def _alerts_and_experiments(page: Any, shots: Path) -> None:
    """The firing alert's badge on the tab, the alerts and experiments sections, and bob (no role)
    refused when he acknowledges."""
    tab = page.locator(".lm-TabBar-tab[data-id='nbops-sidebar']")
    assert tab.get_attribute("data-nbops-alerts") == "1"
    assert "1 alert firing" in (tab.get_attribute("title") or "")
    badge = page.evaluate("""() => getComputedStyle(document.querySelector(
        ".lm-TabBar-tab[data-id='nbops-sidebar']"), '::before').content""")
    assert badge == '"1"', badge
    box = tab.bounding_box()
    page.screenshot(path=str(shots / "1a-alert-badge.png"), clip={
        "x": 0, "y": max(0, box["y"] - 40), "width": 360, "height": box["height"] + 80})
    alert = page.locator("#nbops-sidebar .nbops-alert[data-rule='clf-volume']")
    assert "FIRING" in alert.inner_text() and "volume is > 5" in alert.inner_text()
    exp = page.locator("#nbops-sidebar .nbops-experiment[data-experiment='clf-ab']")
    assert "running" in exp.inner_text() and "treatment clf@v2 50%" in exp.inner_text()
    alert.locator(".nbops-ack").click()
    refusal = page.locator("#nbops-sidebar .nbops-refusal")
    refusal.wait_for(timeout=15000)
    assert refusal.inner_text().startswith("Refused") and "bob" in refusal.inner_text()
    page.locator("#nbops-sidebar .nbops-alerts").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "1b-alerts-experiments-ack-refused.png"))
    assert tab.get_attribute("data-nbops-alerts") == "1"  # still firing


def _highlighted_code_and_diff(page: Any, shots: Path) -> None:
    """The run's code highlighted by JupyterLab's CodeMirror styles; its diff with the run before."""
    tokens = page.locator("#nbops-sidebar .nbops-code .nbops-highlight span")
    tokens.first.wait_for(timeout=15000)
    colors = page.evaluate("""() => [...document.querySelectorAll('#nbops-sidebar .nbops-highlight span')]
        .map(s => getComputedStyle(s).color)""")
    plain = page.evaluate("""() => getComputedStyle(document.querySelector('#nbops-sidebar .nbops-highlight')).color""")
    assert len(set(colors) - {plain}) >= 1, (colors, plain)  # tokens are coloured, not plain text
    page.screenshot(path=str(shots / "4-run-details.png"))
    page.locator("#nbops-sidebar .nbops-diff-button").click()
    diff = page.locator("#nbops-sidebar .nbops-diff")
    diff.wait_for(timeout=15000)
    text = diff.inner_text()  # the live run against the run before it, train-2
    assert "the code changed" in text and "live\ttrain-2" in text and "-alpha = 0.5" in text, text
    diff.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "4a-run-diff.png"))


def _card_experiment_output(page: Any, shots: Path) -> None:
    """A model card, an experiment's decision and estimates, a pipeline run's output notebook."""
    page.locator("#nbops-sidebar .nbops-card-button").nth(1).click()
    card = page.locator("#nbops-sidebar .nbops-card")
    card.wait_for(timeout=15000)
    assert card.locator("h3").text_content().endswith("clf@v2") and "Hyperparameters" in card.inner_text()
    page.screenshot(path=str(shots / "6-model-card.png"))
    page.locator("#nbops-sidebar .nbops-back").click()  # back to the model
    page.locator("#nbops-sidebar .nbops-model-detail").wait_for(timeout=15000)
    page.locator("#nbops-sidebar .nbops-back").click()  # back to the overview
    page.locator("#nbops-sidebar .nbops-experiment[data-experiment='clf-ab']").click()
    detail = page.locator("#nbops-sidebar .nbops-experiment-detail")
    detail.wait_for(timeout=15000)
    assert detail.locator(".nbops-decision").inner_text() == "winner: treatment"
    estimates = detail.locator(".nbops-comparison[data-variant='treatment'] .nbops-estimates").inner_text()
    assert "relative lift\t+" in estimates and "P(better)\t1" in estimates, estimates
    page.screenshot(path=str(shots / "7-experiment.png"))
    page.locator("#nbops-sidebar .nbops-back").click()
    page.locator("#nbops-sidebar .nbops-open-output").first.click()
    ok = page.locator("#nbops-sidebar .nbops-ok", has_text="opened nbops-outputs/square-")
    ok.wait_for(timeout=30000)
    page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output", has_text="squared 4").wait_for(timeout=30000)
    assert page.locator(".lm-TabBar-tab.lm-mod-current", has_text="square-").count() >= 1
    page.screenshot(path=str(shots / "8-output-notebook.png"))
    # JupyterLab's dark theme: the panel, the highlighted code and the badge follow it.
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel").get_by_text("JupyterLab Dark", exact=True).click()
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=15000)
    page.locator("#nbops-sidebar .nbops-run", has_text="live").click()
    page.locator("#nbops-sidebar .nbops-highlight span").first.wait_for(timeout=15000)
    page.screenshot(path=str(shots / "9-dark-theme.png"))
