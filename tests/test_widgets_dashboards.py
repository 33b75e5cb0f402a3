"""nbops.show dashboards built without a kernel: widgets, selection linkage, HTML fallback,
live refresh, theme; lineage with hidden state from %%track; the %nbops show magic."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import plotly.io as pio
import pytest
from plotly.callbacks import Points
from widgets_support import ACCS, fill, govern, opened

from nbops import show
from nbops.errors import NbopsError


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path = tmp_path_factory.mktemp("dash")
    with opened(path) as ws:
        ids = fill(ws)
        govern(ws, ids)
        yield ws, ids


def test_runs_dashboard_builds_without_a_kernel_and_exports_html(catalog):
    ws, ids = catalog
    d = show.runs(ws=ws, sort="metric.acc")
    assert [f.layout.title.text for f in d.figures()] == [
        "Metrics over runs", "Metrics over steps", "Parameters → acc"]
    assert [r for _, r in d.table.options] == [ids[ACCS.index(a)] for a in sorted(ACCS, reverse=True)]
    page = d.to_html()
    assert page.count("plotly-graph-div") == 3 and "<table" in page
    assert all(i in page for i in ids) and "0.83" in page
    bundle = d._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "plotly-graph-div" in bundle["text/html"] and ids[0] in bundle["text/html"]
    d.close()


def test_selecting_rows_highlights_points_and_draws_their_steps(catalog):
    ws, ids = catalog
    d = show.runs(ws=ws, sort="started_at", ascending=True)
    assert {t.meta["run_id"] for t in d.fig_steps.data} == set(ids)  # no selection: the first runs
    d.table.value = (ids[1], ids[3])
    assert [tuple(t.selectedpoints) for t in d.fig_runs.data] == [(1, 3), (1, 3)]
    assert {t.meta["run_id"] for t in d.fig_steps.data} == {ids[1], ids[3]}
    assert {t.meta["key"] for t in d.fig_steps.data} == {"loss"}  # acc was logged once: no curve
    d.close()


def test_selecting_points_in_the_chart_selects_the_rows(catalog):
    ws, ids = catalog
    d = show.runs(ws=ws, sort="started_at", ascending=True)
    trace = d.fig_runs.data[0]
    trace._dispatch_on_selection(Points(point_inds=[0, 2], trace_name=trace.name, trace_index=0), None)
    assert d.table.value == (ids[0], ids[2])
    assert tuple(d.fig_runs.data[1].selectedpoints) == (0, 2)
    d.close()


def test_filter_and_sort_controls_requery(catalog):
    ws, ids = catalog
    d = show.runs(ws=ws)
    d.filter_box.value = "metric.acc > 0.8"
    assert len(d.table.options) == 2 and len(d.fig_runs.data[0].x) == 2
    d.sort_box.value = "param.C"
    d.ascending_box.value = True
    assert [r for _, r in d.table.options] == [ids[1], ids[3]]  # C = 1.0, then 3.0
    d.close()


def test_refresh_shows_new_runs_and_stops_when_closed(tmp_path):
    with opened(tmp_path) as ws:
        with ws.run(name="first") as run:
            run.log_metric("acc", 0.5)
        d = show.runs(ws=ws, refresh=0.05)
        assert d.refreshing and len(d.table.options) == 1
        with ws.run(name="second") as run:
            run.log_metric("acc", 0.6)
        deadline = time.monotonic() + 30
        while len(d.table.options) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(d.table.options) == 2 and list(d.fig_runs.data[0].y) == [0.6, 0.5]
        d.probe._handle_custom_msg({"view": "shown"}, [])  # what the frontend sends
        d.probe._handle_custom_msg({"view": "removed"}, [])  # the output was cleared
        assert not d.refreshing
        d.probe._handle_custom_msg({"view": "shown"}, [])
        assert d.refreshing
        d.close()
        assert not d.refreshing
        with pytest.raises(NbopsError, match="positive"):
            show.runs(ws=ws, refresh=0)


def test_runs_of_an_empty_workspace_sorted_by_a_metric_fill_in_when_runs_arrive(tmp_path):
    with opened(tmp_path) as ws:
        d = show.runs(ws=ws, sort="metric.acc", refresh=0.05)  # nothing logged yet
        assert d.sort_box.value == "metric.acc" and len(d.table.options) == 0
        with ws.run(name="first") as run:
            run.log_metric("acc", 0.5)
        deadline = time.monotonic() + 30
        while len(d.table.options) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(d.table.options) == 1 and list(d.fig_runs.data[0].y) == [0.5]
        d.close()


def test_theme_dark_auto_and_bad(catalog):
    ws, _ = catalog
    dark = show.model("churn", ws=ws, theme="dark")
    assert dark.fig.layout.template.layout.paper_bgcolor == pio.templates["plotly_dark"].layout.paper_bgcolor
    auto = show.model("churn", ws=ws)
    light_bg = auto.fig.layout.template.layout.paper_bgcolor
    auto.probe.dark = True  # what the browser-side check reports in a dark JupyterLab
    assert auto.fig.layout.template.layout.paper_bgcolor != light_bg
    with pytest.raises(NbopsError, match="unknown theme"):
        show.model("churn", ws=ws, theme="blue")
    dark.close()
    auto.close()


def test_compare_shows_changed_params_metrics_data_and_hyperparameters(catalog):
    ws, ids = catalog
    d = show.compare(ids[2], ids[3], ws=ws)
    changed = {(s, k) for s, rows in d.sections.items() for k, _, _, c in rows if c}
    assert {("params", "C"), ("params", "solver"), ("metrics", "acc"), ("hyperparameters", "clf.C"),
            ("data", "input features.x2")} <= changed
    assert ("data", "input features.x1") not in changed
    assert ("data", "input features shape") not in changed
    page = d.to_html()
    assert "code: same" in page and page.count("plotly-graph-div") == 2 and "input features.x2" in page
    d.close()


def test_model_dashboard_html_has_versions_and_audit(catalog):
    ws, _ = catalog
    d = show.model("churn", ws=ws)
    page = d.to_html()
    assert "plotly-graph-div" in page and "model:churn@staging" in page
    assert "staging" in page and "<table" in page
    with pytest.raises(NbopsError, match="no registered model"):
        show.model("nope", ws=ws)
    d.close()


def test_lineage_dashboard_click_shows_node_details(catalog):
    ws, ids = catalog
    d = show.lineage(ids[3], ws=ws)
    run_trace = next(t for t in d.fig.data if t.name == "run")
    run_trace._dispatch_on_click(Points(point_inds=[0], trace_name="run", trace_index=0), None)
    assert "train3" in d.details.value and ids[3] in d.details.value
    assert "churn v2" in d.to_html()
    d.close()


# -- a real IPython shell: %%track runs with hidden state, and the %nbops show magic ---------
def _shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    if InteractiveShell.initialized():
        return InteractiveShell.instance()
    from IPython.testing.globalipapp import get_ipython

    return get_ipython()


@pytest.fixture
def ip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NBOPS_HOME", str(tmp_path))
    ip = _shell()
    ip.reset(new_session=False)
    ip.run_line_magic("load_ext", "nbops")
    yield ip
    session = ip.magics_manager.registry["NbopsMagics"].session
    ip.run_line_magic("unload_ext", "nbops")
    if session._ws is not None:
        session._ws.close()


def test_hidden_state_from_track_is_a_dashed_edge_and_magic_shows_dashboards(ip):
    def cell(src: str) -> Any:
        res = ip.run_cell(src, store_history=True)
        assert res.success, res.error_in_exec
        return res.result

    cell("%%track -q -n make\nbase = 10")
    cell("base = 11")  # untracked change: hidden state for the next reader
    cell("%%track -q -n use\nscore = base * 2.5")
    magics = ip.magics_manager.registry["NbopsMagics"]
    magics.session.flush()
    use = magics.session.ws.runs("name == 'use'")["run_id"].iloc[0]
    d = cell(f"%nbops show lineage {use}")
    hidden = [t for t in d.fig.data if t.name == "hidden state"]
    assert len(hidden) == 1 and hidden[0].line.dash == "dash"
    assert any(n.kind == "hidden" and n.label == "base (hidden state)" for n in d.nodes)
    assert "hidden state: base (hidden state)" in d.to_html()
    runs = cell("%nbops show runs")
    assert len(runs.table.options) == 2
    text = ip.run_cell(f"%nbops show {use}", store_history=True)
    assert text.success and text.result is None  # a run id still gets the text view
    bad = ip.run_cell("%nbops show compare only-one", store_history=True)
    assert not bad.success and "show compare RUN_A RUN_B" in str(bad.error_in_exec)
    d.close()
    runs.close()


def test_import_nbops_does_not_load_plotly_or_ipywidgets():
    code = ("import sys, nbops; from nbops import show; "
            "assert not {'plotly', 'ipywidgets', 'anywidget'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_empty_workspace_and_a_lone_run_still_draw(tmp_path):
    with opened(tmp_path) as ws:
        empty = show.runs(ws=ws)
        assert empty.table.options == () and "plotly-graph-div" in empty.to_html()
        with ws.run(name="solo") as run:
            pass
        empty.reload()
        assert [r for _, r in empty.table.options] == [run.run_id]
        lone = show.lineage(run.run_id, ws=ws)
        assert [n.label for n in lone.nodes] == [f"solo · {run.run_id[:8]}"]
        with pytest.raises(NbopsError, match="no schedule 'nope'"):
            show.pipeline("nope", ws=ws)
        empty.close()
        lone.close()
