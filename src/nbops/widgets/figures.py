"""Pure plotly figure builders: data in (DataFrames, records), ``go.Figure`` out.

No I/O, no ipywidgets: every function here can be tested without a kernel. The
dashboards (``nbops.widgets.dashboards``) load the data and wire these figures to
interaction. Lineage and model-timeline figures live in ``figures_graph``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from nbops.widgets.figures_graph import (
    Edge,
    Node,
    layered_layout,
    lineage_figure,
    model_timeline_figure,
)

LIGHT, DARK = "plotly_white", "plotly_dark"
STATUS_COLORS = {"finished": "#2ca02c", "succeeded": "#2ca02c", "running": "#1f77b4",
                 "failed": "#d62728", "timeout": "#ff7f0e", "killed": "#9467bd",
                 "interrupted": "#8c564b"}

__all__ = ["DARK", "LIGHT", "Edge", "Node", "compare_metrics_figure", "compare_table_figure",
           "diff_rows", "layered_layout", "lineage_figure", "metric_columns", "metric_steps_figure",
           "model_timeline_figure", "param_columns", "params_parallel_figure",
           "pipeline_history_figure", "run_labels", "runs_metric_figure"]


def metric_columns(runs: pd.DataFrame) -> list[str]:
    return [c.removeprefix("metric.") for c in runs.columns if c.startswith("metric.")]


def param_columns(runs: pd.DataFrame) -> list[str]:
    return [c.removeprefix("param.") for c in runs.columns if c.startswith("param.")]


def run_labels(runs: pd.DataFrame) -> list[str]:
    """A short unique label per run: its name (if any) and the first 8 characters of its id."""
    names = runs["name"] if "name" in runs.columns else pd.Series([None] * len(runs))
    return [f"{n} · {r[:8]}" if isinstance(n, str) and n else r[:8]
            for n, r in zip(names, runs["run_id"], strict=True)]


def _selected_index(runs: pd.DataFrame, selected: Sequence[str]) -> list[int] | None:
    if not selected:
        return None
    chosen = set(selected)
    return [i for i, r in enumerate(runs["run_id"]) if r in chosen]


def runs_metric_figure(runs: pd.DataFrame, metrics: Sequence[str] | None = None, *,
                       selected: Sequence[str] = (), template: str = LIGHT) -> go.Figure:
    """One point per run and metric, runs along x in the frame's order (sort the frame to sort them)."""
    metrics = list(metrics) if metrics is not None else metric_columns(runs)
    # numpy string arrays, not lists: plotly checks and copies 10,000 labels at once
    labels = np.asarray(run_labels(runs), dtype=str)
    run_ids = runs["run_id"].to_numpy(dtype=str)
    fig = go.Figure()
    for key in metrics:
        col = f"metric.{key}"
        y = runs[col] if col in runs.columns else pd.Series([None] * len(runs))
        fig.add_trace(go.Scatter(
            x=labels, y=y, name=key, mode="lines+markers", customdata=run_ids,
            selectedpoints=_selected_index(runs, selected),
            selected={"marker": {"size": 13}}, unselected={"marker": {"opacity": 0.3}},
            hovertemplate="%{x}<br>" + key + " = %{y:.6g}<extra></extra>"))
    title = metrics[0] if len(metrics) == 1 else "value"
    fig.update_layout(template=template, title="Metrics over runs", xaxis_title="run",
                      yaxis_title=title, dragmode="select", clickmode="event+select",
                      margin={"t": 50, "b": 40}, height=340)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=labels)
    return fig


def metric_steps_figure(steps: pd.DataFrame, labels: Mapping[str, str], metrics: Sequence[str] | None = None,
                        *, template: str = LIGHT) -> go.Figure:
    """A line per (run, metric) over logged steps, runs in ``labels``' order.

    ``steps`` has run_id, key, step, value.
    """
    frame = steps if metrics is None else steps[steps["key"].isin(list(metrics))]
    order = {r: i for i, r in enumerate(labels)}
    groups = sorted(frame.groupby(["run_id", "key"], sort=True),
                    key=lambda item: (order.get(item[0][0], len(order)), item[0][1]))
    fig = go.Figure()
    for (run_id, key), g in groups:
        label = labels.get(str(run_id), str(run_id)[:8])
        fig.add_trace(go.Scatter(x=g["step"], y=g["value"], mode="lines+markers",
                                 name=f"{label} · {key}", customdata=[run_id] * len(g),
                                 meta={"run_id": run_id, "key": key}))
    keys = sorted(set(frame["key"]))
    fig.update_layout(template=template, title="Metrics over steps", xaxis_title="step",
                      yaxis_title=keys[0] if len(keys) == 1 else "value",
                      margin={"t": 50, "b": 40}, height=340)
    return fig


def _dimension(label: str, values: pd.Series) -> dict[str, Any]:
    """One axis; numpy arrays, not lists, so plotly validates 10,000 runs' values at once."""
    if pd.api.types.is_numeric_dtype(values):
        return {"label": label, "values": values.to_numpy(dtype=float, na_value=np.nan)}
    text = values.astype("string")
    cats = sorted(text.dropna().unique().tolist())
    codes = pd.Categorical(text, categories=cats).codes.astype(float)
    codes[codes < 0] = np.nan
    return {"label": label, "values": codes, "tickvals": list(range(len(cats))), "ticktext": cats}


def params_parallel_figure(runs: pd.DataFrame, metric: str, params: Sequence[str] | None = None, *,
                           template: str = LIGHT) -> go.Figure:
    """Parallel coordinates: each parameter an axis, the metric last and as the line colour."""
    params = list(params) if params is not None else param_columns(runs)
    col = f"metric.{metric}"
    if col in runs.columns:  # a line needs the metric: runs without it are left out
        runs = runs[runs[col].notna()]
    y = runs[col] if col in runs.columns else pd.Series([float("nan")] * len(runs))
    dims = [_dimension(p, runs[f"param.{p}"]) for p in params if f"param.{p}" in runs.columns]
    dims.append(_dimension(metric, y))
    fig = go.Figure(go.Parcoords(
        dimensions=dims, line={"color": y.to_numpy(dtype=float, na_value=np.nan), "colorscale": "Viridis",
                               "showscale": True, "colorbar": {"title": {"text": metric}}}))
    fig.update_layout(template=template, title=f"Parameters → {metric}", height=340,
                      margin={"t": 70, "b": 30, "l": 60, "r": 60})
    return fig


def diff_rows(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, Any, Any, bool]]:
    """(key, A's value, B's value, changed) for every key in either mapping, sorted by key."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        out.append((key, va, vb, str(va) != str(vb)))
    return out


def compare_table_figure(sections: Mapping[str, Sequence[tuple[str, Any, Any, bool]]],
                         labels: tuple[str, str] = ("A", "B"), *, template: str = LIGHT) -> go.Figure:
    """Side-by-side table: one block per section (params, metrics, ...); changed rows highlighted."""
    cols: list[list[str]] = [[], [], [], []]
    fills: list[str] = []
    for section, rows in sections.items():
        for key, va, vb, changed in rows:
            for i, v in enumerate((section, key, _fmt(va), _fmt(vb))):
                cols[i].append(v)
            fills.append("rgba(255, 200, 0, 0.35)" if changed else "rgba(0, 0, 0, 0)")
    fig = go.Figure(go.Table(
        header={"values": ["", "key", labels[0], labels[1]], "align": "left"},
        cells={"values": cols, "align": "left", "fill": {"color": [fills] * 4}}))
    fig.update_layout(template=template, title="Changed rows are highlighted",
                      height=min(120 + 28 * len(fills), 700), margin={"t": 50, "b": 10})
    return fig


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "—"
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def compare_metrics_figure(ma: Mapping[str, float], mb: Mapping[str, float],
                           labels: tuple[str, str] = ("A", "B"), *, template: str = LIGHT) -> go.Figure:
    """Grouped bars of each metric's final value in A and B."""
    keys = sorted(set(ma) | set(mb))
    fig = go.Figure([go.Bar(name=labels[0], x=keys, y=[ma.get(k) for k in keys]),
                     go.Bar(name=labels[1], x=keys, y=[mb.get(k) for k in keys])])
    fig.update_layout(template=template, barmode="group", title="Metrics", xaxis_title="metric",
                      yaxis_title="value", height=320, margin={"t": 50, "b": 40})
    return fig


def pipeline_history_figure(runs: pd.DataFrame, next_runs: Sequence[datetime] = (), *,
                            template: str = LIGHT) -> go.Figure:
    """Duration of each pipeline run over its start time, one trace per status; next runs on the axis.

    ``runs`` has pipeline_run_id, started_at, duration_ms, status, error_cell_index, error_name.
    """
    fig = go.Figure()
    for status, g in runs.groupby("status", sort=True):
        cells = [f"cell {int(c)}: {e}" if pd.notna(c) else "" for c, e in
                 zip(g["error_cell_index"], g["error_name"].fillna(""), strict=True)]
        fig.add_trace(go.Scatter(
            x=g["started_at"], y=g["duration_ms"] / 1000.0, mode="markers", name=str(status),
            marker={"color": STATUS_COLORS.get(str(status), "#7f7f7f"), "size": 11},
            customdata=list(zip(g["pipeline_run_id"], cells, strict=True)),
            hovertemplate="%{customdata[0]}<br>%{x}<br>%{y:.1f} s %{customdata[1]}<extra>"
                          + str(status) + "</extra>"))
    if next_runs:
        fig.add_trace(go.Scatter(x=list(next_runs), y=[0] * len(next_runs), mode="markers",
                                 name="next runs", marker={"symbol": "triangle-up", "size": 12,
                                                           "color": "#7f7f7f"},
                                 hovertemplate="next run %{x}<extra></extra>"))
    fig.update_layout(template=template, title="Pipeline runs", xaxis_title="started",
                      yaxis_title="duration (s)", height=340, margin={"t": 50, "b": 40})
    return fig
