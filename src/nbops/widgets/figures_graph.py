"""Pure plotly builders for graphs and timelines: the lineage graph and a model's history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

LIGHT = "plotly_white"
# Column (left to right) and marker of each kind of node in the lineage graph.
NODE_STYLE: dict[str, tuple[str, str]] = {
    "data": ("square", "#17becf"), "hidden": ("x", "#d62728"), "pipeline": ("hexagon", "#9467bd"),
    "run": ("circle", "#1f77b4"), "model": ("diamond", "#ff7f0e"), "version": ("star", "#2ca02c"),
    "alias": ("triangle-right", "#bcbd22"),
}


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # one of NODE_STYLE
    label: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    relation: str
    hidden: bool = False  # the destination read a value made by an untracked or since-changed cell


def layered_layout(nodes: Sequence[Node], edges: Sequence[Edge]) -> dict[str, tuple[float, float]]:
    """x = longest path from a source (so data flows left to right), y = spread within a layer."""
    ids = [n.id for n in nodes]
    preds: dict[str, list[str]] = {i: [] for i in ids}
    for e in edges:
        if e.src in preds and e.dst in preds and e.src != e.dst:
            preds[e.dst].append(e.src)
    depth: dict[str, int] = {}

    def level(i: str, seen: frozenset[str]) -> int:
        if i not in depth:
            ps = [p for p in preds[i] if p not in seen]
            depth[i] = 1 + max((level(p, seen | {i}) for p in ps), default=-1)
        return depth[i]

    layers: dict[int, list[str]] = {}
    for i in ids:
        layers.setdefault(level(i, frozenset()), []).append(i)
    pos = {}
    for x, members in layers.items():
        for k, i in enumerate(members):
            pos[i] = (float(x), (len(members) - 1) / 2.0 - k)
    return pos


def _edge_trace(edges: Sequence[Edge], pos: Mapping[str, tuple[float, float]], name: str,
                line: dict[str, Any]) -> go.Scatter:
    xs: list[float | None] = []
    ys: list[float | None] = []
    for e in edges:
        if e.src in pos and e.dst in pos:
            (x0, y0), (x1, y1) = pos[e.src], pos[e.dst]
            xs += [x0, x1, None]
            ys += [y0, y1, None]
    return go.Scatter(x=xs, y=ys, mode="lines", name=name, line=line, hoverinfo="skip",
                      meta={"edges": len(xs) // 3})


def lineage_figure(nodes: Sequence[Node], edges: Sequence[Edge], *, template: str = LIGHT,
                   title: str = "Lineage") -> go.Figure:
    """Edges first (hidden-state edges dashed red, their own trace), then one node trace per kind.

    Each node trace carries the node ids in ``customdata`` so a click can look up details.
    """
    pos = layered_layout(nodes, edges)
    fig = go.Figure()
    fig.add_trace(_edge_trace([e for e in edges if not e.hidden], pos, "edges",
                              {"color": "#999", "width": 1.5}))
    hidden = [e for e in edges if e.hidden]
    if hidden:
        fig.add_trace(_edge_trace(hidden, pos, "hidden state",
                                  {"color": "#d62728", "width": 2.5, "dash": "dash"}))
    for kind, (symbol, color) in NODE_STYLE.items():
        group = [n for n in nodes if n.kind == kind]
        if not group:
            continue
        fig.add_trace(go.Scatter(
            x=[pos[n.id][0] for n in group], y=[pos[n.id][1] for n in group], mode="markers+text",
            name=kind, text=[n.label for n in group], textposition="top center",
            customdata=[n.id for n in group], hovertemplate="%{text}<extra>" + kind + "</extra>",
            marker={"symbol": symbol, "color": color, "size": 18, "line": {"width": 1, "color": "#333"}}))
    fig.update_layout(template=template, title=title, height=max(320, 90 * _widest(pos)),
                      xaxis={"visible": False}, yaxis={"visible": False},
                      margin={"t": 50, "b": 20, "l": 20, "r": 20}, clickmode="event")
    return fig


def _widest(pos: Mapping[str, tuple[float, float]]) -> int:
    counts: dict[float, int] = {}
    for x, _ in pos.values():
        counts[x] = counts.get(x, 0) + 1
    return max(counts.values(), default=1)


def _now_like(ts: pd.Series) -> datetime:
    return max([datetime.now(UTC), *[t for t in ts if pd.notna(t)]])


def _alias_traces(events: pd.DataFrame, end: datetime) -> list[go.Scatter]:
    traces = []
    for alias, g in events.groupby("alias", sort=True):
        x = [*g["ts"], end]
        y = [*g["version"], g["version"].iloc[-1]]
        traces.append(go.Scatter(
            x=x, y=y, mode="lines+markers", line_shape="hv", name=f"@{alias}",
            customdata=[*g["kind"], "now"], text=[*g["reason"].fillna(""), ""],
            hovertemplate="@" + str(alias) + " → v%{y} (%{customdata}) %{text}<br>%{x}<extra></extra>"))
    return traces


def _lane(frame: pd.DataFrame, lane: str, name: str, text: Sequence[str], color: str,
          symbol: str) -> go.Scatter:
    return go.Scatter(x=frame["ts"], y=[lane] * len(frame), mode="markers", name=name, text=list(text),
                      marker={"color": color, "symbol": symbol, "size": 12},
                      hovertemplate="%{text}<br>%{x}<extra>" + name + "</extra>")


def model_timeline_figure(versions: pd.DataFrame, alias_events: pd.DataFrame,
                          validations: pd.DataFrame, approvals: pd.DataFrame, audit: pd.DataFrame,
                          *, template: str = LIGHT, title: str = "Model history") -> go.Figure:
    """Top: versions registered and the version each alias held over time.
    Bottom: lanes of gate results, approval decisions and audit entries on the same time axis."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4], vertical_spacing=0.08)
    fig.add_trace(go.Scatter(
        x=versions["created_at"], y=versions["version"], mode="markers", name="registered",
        marker={"symbol": "star", "size": 14, "color": "#2ca02c"},
        text=[f"v{v} by {u}" for v, u in zip(versions["version"], versions["created_by"], strict=True)],
        hovertemplate="%{text}<br>%{x}<extra>registered</extra>"), row=1, col=1)
    end = _now_like(pd.concat([versions["created_at"], alias_events["ts"]]))
    for trace in _alias_traces(alias_events, end):
        fig.add_trace(trace, row=1, col=1)
    for passed, g in validations.groupby("passed", sort=False):
        fig.add_trace(_lane(g, "gates", "gate passed" if passed else "gate failed",
                            [f"v{v} {gate}" for v, gate in zip(g["version"], g["gate"], strict=True)],
                            "#2ca02c" if passed else "#d62728", "circle" if passed else "x"), row=2, col=1)
    if not approvals.empty:
        fig.add_trace(_lane(approvals, "approvals", "approvals",
                            [f"{a} {d}s v{v}@{al}" for a, d, v, al in zip(
                                approvals["actor"], approvals["decision"], approvals["version"],
                                approvals["alias"], strict=True)], "#9467bd", "square"), row=2, col=1)
    if not audit.empty:
        fig.add_trace(_lane(audit, "audit", "audit",
                            [f"#{s} {a}: {act} {t}" for s, a, act, t in zip(
                                audit["seq"], audit["actor"], audit["action"], audit["target"], strict=True)],
                            "#7f7f7f", "line-ns-open"), row=2, col=1)
    fig.update_yaxes(title_text="version", dtick=1, row=1, col=1)
    fig.update_yaxes(type="category", categoryorder="array",
                     categoryarray=["audit", "approvals", "gates"], row=2, col=1)
    fig.update_xaxes(title_text="time", row=2, col=1)
    fig.update_layout(template=template, title=title, height=480, margin={"t": 50, "b": 40})
    return fig
