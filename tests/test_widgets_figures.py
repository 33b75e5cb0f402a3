"""The pure figure builders, fed with data read from a real catalog (no kernel, no widgets)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from widgets_support import ACCS, CS, fill, govern, opened

from nbops.widgets import data, figures
from nbops.widgets.figures_graph import Edge, Node, layered_layout, lineage_figure
from nbops.widgets.graph import lineage_graph


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path = tmp_path_factory.mktemp("figs")
    with opened(path) as ws:
        ids = fill(ws)
        govern(ws, ids)
        yield ws, ids


def test_metric_over_runs_shows_the_catalog_values_in_the_requested_order(catalog):
    ws, ids = catalog
    runs = ws.runs(sort="metric.acc", ascending=True)
    fig = figures.runs_metric_figure(runs, ["acc"])
    (trace,) = fig.data
    assert list(trace.y) == sorted(ACCS)
    assert list(trace.customdata) == [ids[ACCS.index(a)] for a in sorted(ACCS)]
    assert fig.layout.xaxis.title.text == "run" and fig.layout.yaxis.title.text == "acc"
    assert list(fig.layout.xaxis.categoryarray) == list(trace.x)


def test_selected_runs_are_the_selected_points(catalog):
    ws, ids = catalog
    runs = ws.runs(sort="started_at", ascending=True)
    fig = figures.runs_metric_figure(runs, ["acc", "loss"], selected=[ids[2]])
    assert [t.name for t in fig.data] == ["acc", "loss"]
    assert all(tuple(t.selectedpoints) == (2,) for t in fig.data)
    assert figures.runs_metric_figure(runs, ["acc"]).data[0].selectedpoints is None


def test_metric_over_steps_has_a_line_per_run_with_every_step(catalog):
    ws, ids = catalog
    steps = data.metric_steps(ws, ids[:2], ["loss"])
    fig = figures.metric_steps_figure(steps, {ids[0]: "first", ids[1]: "second"})
    assert [t.name for t in fig.data] == ["first · loss", "second · loss"]
    assert [list(t.x) for t in fig.data] == [[0, 1, 2], [0, 1, 2]]
    assert list(fig.data[0].y) == [round(1.0 / (s + 1 + CS[0]), 4) for s in range(3)]
    assert fig.layout.xaxis.title.text == "step" and fig.layout.yaxis.title.text == "loss"


def test_parallel_coordinates_has_an_axis_per_param_then_the_metric(catalog):
    ws, _ = catalog
    runs = ws.runs(sort="started_at", ascending=True)
    fig = figures.params_parallel_figure(runs, "acc")
    dims = fig.data[0].dimensions
    assert [d.label for d in dims] == ["C", "solver", "acc"]
    assert list(dims[0].values) == list(CS) and list(dims[2].values) == list(ACCS)
    assert list(dims[1].ticktext) == ["lbfgs", "saga"] and list(dims[1].values) == [1, 0, 1, 0]
    assert list(fig.data[0].line.color) == list(ACCS)


def test_compare_highlights_only_what_changed():
    rows = figures.diff_rows({"C": "1.0", "solver": "saga"}, {"C": "3.0", "solver": "saga", "tol": "1"})
    assert rows == [("C", "1.0", "3.0", True), ("solver", "saga", "saga", False), ("tol", None, "1", True)]
    fig = figures.compare_table_figure({"params": rows}, ("A", "B"))
    cells = fig.data[0].cells
    assert list(cells.values[1]) == ["C", "solver", "tol"] and list(cells.values[2]) == ["1.0", "saga", "—"]
    fills = list(cells.fill.color[0])
    assert fills[0] == fills[2] != fills[1]
    bars = figures.compare_metrics_figure({"acc": 0.8}, {"acc": 0.9}, ("A", "B"))
    assert [list(b.y) for b in bars.data] == [[0.8], [0.9]]


def test_lineage_graph_from_catalog_runs_to_aliases(catalog):
    ws, ids = catalog
    nodes, edges = lineage_graph(ws, "churn@staging")
    kinds = {n.kind: n for n in nodes}
    assert kinds["alias"].label == "@staging" and kinds["version"].label == "churn v2"
    assert {n.label for n in nodes if n.kind == "run"} == {f"train3 · {ids[3][:8]}"}
    assert {"data", "model"} <= {n.kind for n in nodes} and len(nodes) == 5
    fig = lineage_figure(nodes, edges)
    node_traces = {t.name: t for t in fig.data if "markers" in t.mode}
    assert set(node_traces) == {"run", "data", "model", "version", "alias"}
    assert fig.data[0].meta["edges"] == len(edges) == 4
    pos = layered_layout(nodes, edges)
    assert pos[kinds["data"].id][0] < pos[kinds["run"].id][0] < pos[kinds["alias"].id][0]


def test_hidden_state_edges_get_their_own_dashed_trace():
    nodes = [Node("a", "run", "a"), Node("h", "hidden", "x (hidden state)"), Node("b", "run", "b")]
    edges = [Edge("a", "b", "var:y"), Edge("h", "b", "var:x", hidden=True)]
    fig = lineage_figure(nodes, edges)
    normal, hidden = fig.data[0], fig.data[1]
    assert hidden.name == "hidden state" and hidden.line.dash == "dash" and normal.line.dash is None
    assert hidden.line.color != normal.line.color and hidden.meta["edges"] == normal.meta["edges"] == 1


def test_model_timeline_shows_versions_alias_moves_gates_approvals_and_audit(catalog):
    ws, _ = catalog
    d = data.model_data(ws, "churn")
    fig = figures.model_timeline_figure(d["versions"], d["alias_events"], d["validations"],
                                        d["approvals"], d["audit"])
    by = {t.name: t for t in fig.data}
    assert list(by["registered"].y) == [1, 2]
    assert list(by["@staging"].y) == [1, 2, 2]  # v1, then v2, held until now
    assert list(by["gate passed"].text) == ["v2 data_checks"] and list(by["gate failed"].text) == ["v1 fairness"]
    assert list(by["approvals"].text) == ["carol approves v2@production"]
    assert len(by["audit"].x) == len(d["audit"]) >= 8
    assert fig.layout.yaxis.title.text == "version"


def test_pipeline_history_by_status_with_failing_cell_and_next_runs():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    runs = pd.DataFrame({"pipeline_run_id": ["p1", "p2", "p3"], "status": ["succeeded", "failed", "succeeded"],
                         "started_at": [t0, t0 + timedelta(hours=1), t0 + timedelta(hours=2)],
                         "duration_ms": [2000.0, 500.0, 3000.0], "error_cell_index": [None, 3, None],
                         "error_name": [None, "ValueError", None]})
    nxt = [t0 + timedelta(hours=3), t0 + timedelta(hours=4)]
    fig = figures.pipeline_history_figure(runs, nxt)
    by = {t.name: t for t in fig.data}
    assert list(by["succeeded"].y) == [2.0, 3.0] and list(by["failed"].y) == [0.5]
    assert by["failed"].customdata[0][1] == "cell 3: ValueError"
    assert len(by["next runs"].x) == 2
    assert fig.layout.yaxis.title.text == "duration (s)"
