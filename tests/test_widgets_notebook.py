"""Dashboards in real kernels: the example notebook through papermill and nbconvert (the static
fallback survives), and show.pipeline over pipeline runs that really ran."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from _pipelines_util import make_notebook, ws_fixture  # noqa: F401

from nbops import show
from nbops.pipelines.runner import PipelineRunFailed
from nbops.pipelines.schedules import add_schedule, run_schedule_now

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "example_notebooks" / "06_dashboards.ipynb"


@pytest.mark.slow
def test_example_notebook_runs_and_its_html_export_keeps_the_dashboards(tmp_path, monkeypatch):
    import papermill
    from nbconvert import HTMLExporter

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("NBOPS_HOME", raising=False)
    out = tmp_path / "out.ipynb"
    # Widget state is not stored: each plotly FigureWidget's state carries plotly.js (~5 MB).
    papermill.execute_notebook(str(NOTEBOOK), str(out), cwd=str(tmp_path), kernel_name="python3",
                               parameters={"n_runs": 4}, progress_bar=False, store_widget_state=False)
    nb = nbformat.read(out, as_version=4)
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(shown) == 5 and all("nbops-dashboard" in o["data"]["text/html"] for o in shown)
    page, _ = HTMLExporter().from_notebook_node(nb)
    assert page.count("nbops-dashboard") == 5
    assert page.count("plotly-graph-div") >= 8  # runs 3, compare 2, lineage 1, model 2
    assert "Lineage of churn@staging" in page and "sweep3" in page and "@staging" in page


@pytest.mark.slow
def test_pipeline_dashboard_shows_history_failing_cell_and_next_runs(ws, tmp_path: Path):
    make_notebook(tmp_path / "train.ipynb", "%load_ext nbops", "%%track -q -n step\nscore = 2 * 3",
                  "assert not fail, 'bad data'", parameters="fail = False")
    add_schedule("nightly", "train.ipynb", ws=ws, cron="0 3 * * *")
    assert run_schedule_now("nightly", ws=ws, progress=False).ok
    with pytest.raises(PipelineRunFailed) as failed:
        run_schedule_now("nightly", ws=ws, progress=False, parameters={"fail": True}).raise_for_status()
    cell = failed.value.run.row.error_cell_index  # papermill's injected-parameters cell counts too
    d = show.pipeline("nightly", ws=ws)
    by = {t.name: t for t in d.fig.data}
    assert len(by["succeeded"].x) == 1 and len(by["failed"].x) == 1
    assert by["failed"].customdata[0][1].startswith(f"cell {cell}: AssertionError")
    assert len(by["next runs"].x) == 5 and all(t.hour == 3 for t in by["next runs"].x)
    page = d.to_html()
    assert "plotly-graph-div" in page and "AssertionError" in page and "cron 0 3 * * *" in page
    d.close()
    step = ws.runs("name == 'step'", sort="started_at", ascending=True)["run_id"].iloc[0]
    graph = show.lineage(step, ws=ws)
    pipeline = [n for n in graph.nodes if n.kind == "pipeline"]
    assert [n.label for n in pipeline] == ["pipeline nightly"]
    assert pipeline[0].details["status"] == "succeeded"
    graph.close()
