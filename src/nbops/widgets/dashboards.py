"""The runs and compare dashboards: catalog data wired to figures, tables and selection."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import pandas as pd
import plotly.graph_objects as go

from nbops.widgets import data
from nbops.widgets.base import Dashboard, StaticPart, figure_widget, json_safe, table_html
from nbops.widgets.figures import (
    compare_metrics_figure,
    compare_table_figure,
    diff_rows,
    metric_columns,
    metric_steps_figure,
    param_columns,
    params_parallel_figure,
    run_labels,
    runs_metric_figure,
)

if TYPE_CHECKING:
    from nbops.workspace import Workspace

_TABLE_COLUMNS = ("run_id", "name", "status", "started_at", "duration_ms")


def replace_figure(target: go.FigureWidget, fig: go.Figure) -> None:
    """Swap a FigureWidget's traces and layout for ``fig``'s (the view updates in place)."""
    fig = json_safe(fig)
    with target.batch_update():
        target.layout = fig.layout
    target.data = ()
    target.add_traces(list(fig.data))


class RunsDashboard(Dashboard):
    """A filterable, sortable runs table linked to metric charts and a parallel-coordinates plot.

    Selecting rows highlights those runs in the metric chart and draws their step
    histories; box- or lasso-selecting points in the chart selects the rows.
    """

    title = "Runs"

    def __init__(self, ws: Workspace, *, filter: str | None = None, metrics: Sequence[str] | None = None,
                 params: Sequence[str] | None = None, sort: str = "started_at", ascending: bool = False,
                 limit: int | None = None, step_runs: int = 10, **kwargs: Any) -> None:
        self.filter, self.sort, self.ascending, self.limit = filter, sort, ascending, limit
        self._metrics, self._params, self.step_runs = metrics, params, step_runs
        self._syncing = False
        super().__init__(ws, **kwargs)

    # -- data -------------------------------------------------------------
    def load(self) -> None:
        self.frame = self.ws.runs(self.filter, sort=self.sort, ascending=self.ascending, limit=self.limit)
        self.metrics = list(self._metrics) if self._metrics is not None else metric_columns(self.frame)
        self.params = list(self._params) if self._params is not None else param_columns(self.frame)
        self.labels = dict(zip(self.frame["run_id"], run_labels(self.frame), strict=True))
        self._load_steps(getattr(self, "selected", ()))

    def _load_steps(self, selected: Sequence[str]) -> None:
        ids = list(selected) or self.frame["run_id"].head(self.step_runs).tolist()
        steps = data.metric_steps(self.ws, ids, self.metrics)
        curves = steps.groupby("key")["step"].nunique()  # a metric logged once is no curve
        self.steps = steps[steps["key"].isin(curves[curves > 1].index)]

    @property
    def selected(self) -> tuple[str, ...]:
        return tuple(self.table.value) if hasattr(self, "table") else ()

    # -- widgets ----------------------------------------------------------
    def build(self) -> None:
        self.filter_box = w.Text(value=self.filter or "", placeholder="metric.acc > 0.9 and param.model == 'rf'",
                                 description="filter", continuous_update=False, layout=w.Layout(width="60%"))
        self.sort_box = w.Dropdown(options=self._sort_options(), value=self.sort, description="sort by")
        self.ascending_box = w.Checkbox(value=self.ascending, description="ascending", indent=False)
        self.metric_box = w.Dropdown(options=self.metrics, value=self.metrics[0] if self.metrics else None,
                                     description="colour by")
        self.table = w.SelectMultiple(options=self._rows(), rows=min(12, max(3, len(self.frame))),
                                      layout=w.Layout(width="100%"))
        self.table.add_class("nbops-runs")
        self.fig_runs = figure_widget(runs_metric_figure(self.frame, self.metrics, template=self.template))
        self.fig_steps = figure_widget(metric_steps_figure(self.steps, self.labels, template=self.template))
        self.fig_params = figure_widget(self._parallel())
        self.filter_box.observe(self._on_query, names="value")
        self.sort_box.observe(self._on_query, names="value")
        self.ascending_box.observe(self._on_query, names="value")
        self.metric_box.observe(lambda _: replace_figure(self.fig_params, self._parallel()), names="value")
        self.table.observe(lambda ch: self.select(ch["new"]), names="value")
        self._hook_chart()

    def body(self) -> Sequence[w.Widget]:
        header = w.HTML("<style>.nbops-runs select { font-family: monospace; }</style>"
                        f"<pre style='margin:0'>{html.escape(self._header())}</pre>")
        return [w.HBox([self.filter_box, self.sort_box, self.ascending_box]), header, self.table,
                w.HBox([self.fig_runs, self.fig_steps]), self.metric_box, self.fig_params]

    def _sort_options(self) -> list[str]:
        options = ["started_at", "duration_ms", "name", "status",
                   *[f"metric.{m}" for m in self.metrics], *[f"param.{p}" for p in self.params]]
        # an empty workspace has no metric columns yet: keep the requested sort selectable
        return options if self.sort in options else [*options, self.sort]

    def _columns(self) -> list[str]:
        return [*_TABLE_COLUMNS, *[f"param.{p}" for p in self.params], *[f"metric.{m}" for m in self.metrics]]

    def _header(self) -> str:
        return "  ".join(f"{c[:14]:<14}" for c in self._columns())

    def _rows(self) -> list[tuple[str, str]]:
        cols = [c for c in self._columns() if c in self.frame.columns]
        texts = [_cells(self.frame[c]).str.slice(0, 14).str.pad(14, side="right") for c in cols]
        lines = texts[0].str.cat(texts[1:], sep="  ") if texts else pd.Series([], dtype=str)
        return list(zip(lines.tolist(), self.frame["run_id"].astype(str).tolist(), strict=True))

    def _parallel(self) -> go.Figure:
        metric = self.metric_box.value if hasattr(self, "metric_box") else None
        if not metric:
            return go.Figure(layout={"title": "no metrics logged yet", "template": self.template})
        return params_parallel_figure(self.frame, metric, self.params, template=self.template)

    # -- interaction ------------------------------------------------------
    def _hook_chart(self) -> None:
        for trace in self.fig_runs.data:
            trace.on_selection(self._on_chart_selection)

    def _on_chart_selection(self, trace: Any, points: Any, selector: Any) -> None:
        ids = [str(self.frame["run_id"].iloc[i]) for i in points.point_inds]
        self.table.value = tuple(dict.fromkeys(ids))

    def _on_query(self, _: Any) -> None:
        self.filter = self.filter_box.value or None
        self.sort, self.ascending = self.sort_box.value, self.ascending_box.value
        self.reload()

    def select(self, run_ids: Sequence[str]) -> None:
        """Select runs: rows in the table, highlighted points in the chart, their step histories."""
        if self._syncing:
            return
        self._syncing = True
        try:
            if tuple(self.table.value) != tuple(run_ids):
                self.table.value = tuple(run_ids)
            index = [i for i, r in enumerate(self.frame["run_id"]) if r in set(run_ids)] or None
            with self.fig_runs.batch_update():
                for trace in self.fig_runs.data:
                    trace.selectedpoints = index
            self._load_steps(run_ids)
            replace_figure(self.fig_steps, metric_steps_figure(self.steps, self.labels, template=self.template))
        finally:
            self._syncing = False

    def update(self) -> None:
        keep = [r for r in self.selected if r in set(self.frame["run_id"])]
        replace_figure(self.fig_runs, runs_metric_figure(self.frame, self.metrics, selected=keep,
                                                         template=self.template))
        self._hook_chart()
        replace_figure(self.fig_steps, metric_steps_figure(self.steps, self.labels, template=self.template))
        replace_figure(self.fig_params, self._parallel())
        self._syncing = True
        try:  # the table last: once it shows the new runs, the charts do too
            self.table.options = self._rows()
            self.table.value = tuple(keep)
        finally:
            self._syncing = False

    def static_parts(self) -> list[StaticPart]:
        cols = [c for c in self._columns() if c in self.frame.columns]
        return [self.fig_runs, self.fig_steps, self.fig_params, table_html(self.frame[cols])]


def _cells(col: pd.Series) -> pd.Series:
    """A column as short display strings (vectorized: the table may hold thousands of runs)."""
    if pd.api.types.is_datetime64_any_dtype(col):
        text = col.dt.strftime("%m-%d %H:%M:%S")
    elif pd.api.types.is_float_dtype(col):
        text = col.map("{:.5g}".format)
    else:
        text = col.astype(str)
    return text.where(col.notna(), "—").astype(str)


class CompareDashboard(Dashboard):
    """Two runs side by side: code diff, params, metrics, input data and model hyperparameters."""

    title = "Compare runs"

    def __init__(self, ws: Workspace, run_a: str, run_b: str, **kwargs: Any) -> None:
        self.refs = (run_a, run_b)
        super().__init__(ws, **kwargs)

    def load(self) -> None:
        self.data = data.compare_data(self.ws, *self.refs)
        d = self.data
        self.sections = {s: diff_rows(*d[s]) for s in ("params", "metrics", "data", "hyperparameters")}

    def build(self) -> None:
        labels = self.data["labels"]
        self.fig_metrics = figure_widget(compare_metrics_figure(*self._metric_pair(), labels,
                                                                  template=self.template))
        self.fig_table = figure_widget(compare_table_figure(self.sections, labels, template=self.template))
        self.code = w.HTML(self._code_html())

    def body(self) -> Sequence[w.Widget]:
        return [w.HTML(" vs ".join(html.escape(x) for x in self.data["labels"])), self.code,
                self.fig_metrics, self.fig_table]

    def _metric_pair(self) -> tuple[dict[str, float], dict[str, float]]:
        ma, mb = self.data["metrics"]
        return ma, mb

    def _code_html(self) -> str:
        diff = self.data["code_diff"]
        if not diff:
            return "<p>code: same</p>"
        colors = {"+": "#2ca02c", "-": "#d62728", "@": "#1f77b4"}
        lines = [f"<span style='color:{colors.get(ln[:1], 'inherit')}'>{html.escape(ln)}</span>"
                 for ln in diff.splitlines()]
        return "<pre class='nbops-diff'>" + "\n".join(lines) + "</pre>"

    def update(self) -> None:
        labels = self.data["labels"]
        replace_figure(self.fig_metrics, compare_metrics_figure(*self._metric_pair(), labels,
                                                                template=self.template))
        replace_figure(self.fig_table, compare_table_figure(self.sections, labels, template=self.template))
        self.code.value = self._code_html()

    def static_parts(self) -> list[StaticPart]:
        a, b = self.data["labels"]
        rows = [{"section": s, "key": k, a: v1, b: v2, "changed": "✱" if c else ""}
                for s, rs in self.sections.items() for k, v1, v2, c in rs]
        return [self._code_html(), self.fig_metrics, self.fig_table, table_html(pd.DataFrame(rows))]
