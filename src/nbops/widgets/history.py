"""The lineage, model and pipeline dashboards."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import pandas as pd
import plotly.graph_objects as go

from nbops.widgets import data
from nbops.widgets.base import Dashboard, StaticPart, figure_widget, table_html
from nbops.widgets.dashboards import replace_figure
from nbops.widgets.figures import pipeline_history_figure
from nbops.widgets.figures_graph import lineage_figure, model_timeline_figure
from nbops.widgets.graph import lineage_graph

if TYPE_CHECKING:
    from nbops.workspace import Workspace


def _details_html(title: str, details: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                   f"<td>{html.escape(str(v))}</td></tr>" for k, v in details.items())
    return f"<b>{html.escape(title)}</b><table>{rows}</table>"


class LineageDashboard(Dashboard):
    """The lineage graph around a run, dataset or model; click a node to see its details."""

    title = "Lineage"

    def __init__(self, ws: Workspace, ref: str, **kwargs: Any) -> None:
        self.ref = ref
        self.title = f"Lineage of {ref}"
        super().__init__(ws, **kwargs)

    def load(self) -> None:
        self.nodes, self.edges = lineage_graph(self.ws, self.ref)
        self.by_id = {n.id: n for n in self.nodes}

    def build(self) -> None:
        self.fig = figure_widget(self._figure())
        self.details = w.HTML("<i>click a node to see its details</i>")
        self._hook()

    def _figure(self) -> go.Figure:
        return lineage_figure(self.nodes, self.edges, template=self.template, title=self.title)

    def _hook(self) -> None:
        for trace in self.fig.data:
            if trace.mode and "markers" in trace.mode:
                trace.on_click(self._on_click)

    def _on_click(self, trace: Any, points: Any, selector: Any) -> None:
        if points.point_inds:
            self.select_node(str(trace.customdata[points.point_inds[0]]))

    def select_node(self, node_id: str) -> None:
        node = self.by_id[node_id]
        self.details.value = _details_html(f"{node.kind}: {node.label}", node.details)

    def body(self) -> Sequence[w.Widget]:
        return [self.fig, self.details]

    def update(self) -> None:
        replace_figure(self.fig, self._figure())
        self._hook()

    def static_parts(self) -> list[StaticPart]:
        rows = pd.DataFrame([{"kind": n.kind, "node": n.label} for n in self.nodes])
        hidden = [e for e in self.edges if e.hidden]
        note = "".join(f"<p>⚠ hidden state: {html.escape(self.by_id[e.src].label)} → "
                       f"{html.escape(self.by_id[e.dst].label)}</p>" for e in hidden)
        return [self.fig, note, table_html(rows)]


class ModelDashboard(Dashboard):
    """A registered model's versions, aliases over time, gates, approvals and audit entries."""

    def __init__(self, ws: Workspace, name: str, **kwargs: Any) -> None:
        self.name = name
        self.title = f"Model {name}"
        super().__init__(ws, **kwargs)

    def load(self) -> None:
        self.data = data.model_data(self.ws, self.name)

    def _figure(self) -> go.Figure:
        d = self.data
        return model_timeline_figure(d["versions"], d["alias_events"], d["validations"], d["approvals"],
                                     d["audit"], template=self.template, title=self.title)

    def build(self) -> None:
        self.fig = figure_widget(self._figure())
        self.versions = w.HTML(self._versions_html())

    def _versions_html(self) -> str:
        cols = ["version", "status", "aliases", "run_id", "created_by", "created_at"]
        return table_html(self.data["versions"][cols])

    def body(self) -> Sequence[w.Widget]:
        return [self.fig, self.versions]

    def update(self) -> None:
        replace_figure(self.fig, self._figure())
        self.versions.value = self._versions_html()

    def static_parts(self) -> list[StaticPart]:
        audit = self.data["audit"][["seq", "actor", "action", "target", "ts"]]
        return [self.fig, self._versions_html(), "<h4>audit</h4>", table_html(audit)]


class PipelineDashboard(Dashboard):
    """A schedule's run history (status, duration, failing cell) and its next runs."""

    def __init__(self, ws: Workspace, schedule: str, *, limit: int = 200, **kwargs: Any) -> None:
        self.schedule, self.limit = schedule, limit
        self.title = f"Pipeline {schedule}"
        super().__init__(ws, **kwargs)

    def load(self) -> None:
        self.data = data.pipeline_data(self.ws, self.schedule, limit=self.limit)

    def _figure(self) -> go.Figure:
        return pipeline_history_figure(self.data["runs"], self.data["next_runs"], template=self.template)

    def build(self) -> None:
        self.fig = figure_widget(self._figure())
        self.table = w.HTML(self._table_html())

    def _table_html(self) -> str:
        runs = self.data["runs"]
        frame = pd.DataFrame({
            "pipeline run": runs["pipeline_run_id"], "status": runs["status"],
            "started": runs["started_at"], "duration (s)": (runs["duration_ms"] / 1000).round(1),
            "failing cell": runs["error_cell_index"], "error": runs["error_name"]})
        upcoming = ", ".join(t.isoformat(timespec="minutes") for t in self.data["next_runs"])
        s = self.data["schedule"]
        head = (f"<p>{html.escape(s.notebook)} · cron {html.escape(s.cron or '—')} ({s.tz})"
                f"{' · paused' if s.paused else ''} · next runs: {html.escape(upcoming or '—')}</p>")
        return head + table_html(frame.iloc[::-1])

    def body(self) -> Sequence[w.Widget]:
        return [self.fig, self.table]

    def update(self) -> None:
        replace_figure(self.fig, self._figure())
        self.table.value = self._table_html()

    def static_parts(self) -> list[StaticPart]:
        return [self.fig, self._table_html()]
