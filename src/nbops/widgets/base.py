"""What every dashboard shares: a VBox of plotly FigureWidgets and tables, a static HTML
fallback, live refresh on a background thread, and the light/dark theme.

A dashboard subclass implements ``load()`` (query the catalog), ``build()`` (make the
child widgets once) and ``update()`` (push freshly loaded data into them), plus
``static_parts()``: the figures and HTML tables its ``to_html()`` exports.
"""

from __future__ import annotations

import html
import math
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import ipywidgets as w
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from nbops.errors import NbopsError
from nbops.widgets.theme import Theme, ThemeProbe, check_theme, template_for

if TYPE_CHECKING:
    from nbops.workspace import Workspace

StaticPart: TypeAlias = go.Figure | str  # a figure, or a ready HTML fragment (a table, a diff)


class Dashboard(w.VBox):
    """Base class; see the module docstring."""

    title = "nbops"

    def __init__(self, ws: Workspace, *, owns_ws: bool = False, refresh: float | None = None,
                 theme: str = "auto") -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        super().__init__(layout=w.Layout(width="100%"))
        self.ws = ws
        self._owns_ws = owns_ws
        self.theme = check_theme(theme)
        self.dark = self.theme == Theme.DARK
        self.probe = ThemeProbe()
        if self.theme == Theme.AUTO:
            self.probe.observe(lambda change: self.set_dark(bool(change["new"])), names="dark")
        self.status = w.HTML()
        self.load()
        self.build()
        self.children = [self.probe, w.HTML(f"<b>{html.escape(self.title)}</b>"),
                         *self.body(), self.status]
        self._refresh = refresh
        if refresh is not None:
            self.start_refresh(refresh)
            self.probe.observe(self._on_views, names="views")

    # -- to implement -----------------------------------------------------
    def load(self) -> None:
        raise NotImplementedError

    def build(self) -> None:
        raise NotImplementedError

    def body(self) -> Sequence[w.Widget]:
        raise NotImplementedError

    def update(self) -> None:
        raise NotImplementedError

    def static_parts(self) -> list[StaticPart]:
        raise NotImplementedError

    def figures(self) -> list[go.FigureWidget]:
        return [c for c in self._all_children(self) if isinstance(c, go.FigureWidget)]

    # -- theme --------------------------------------------------------------
    @property
    def template(self) -> str:
        return template_for(self.dark)

    def set_dark(self, dark: bool) -> None:
        self.dark = dark
        for fig in self.figures():
            fig.layout.template = self.template

    # -- refresh ------------------------------------------------------------
    def reload(self) -> None:
        """Query the catalog again and redraw in place."""
        self.load()
        self.update()

    def _on_views(self, change: dict[str, Any]) -> None:
        """Pause refreshing when the last view is removed (cell re-run, output cleared), resume on show."""
        if change["new"] == 0:
            self.stop_refresh()
        elif not self.refreshing and self._refresh is not None and not self._closed:
            self.start_refresh(self._refresh)

    def stop_refresh(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    def start_refresh(self, seconds: float) -> None:
        if seconds <= 0:
            raise NbopsError(f"refresh must be a positive number of seconds, not {seconds!r}")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh_loop, args=(float(seconds), self._stop),
                                        name=f"nbops-{self.title}-refresh", daemon=True)
        self._thread.start()

    def _refresh_loop(self, seconds: float, stop: threading.Event) -> None:
        while not stop.wait(seconds):
            try:
                self.reload()
                self.status.value = ""
            except Exception as exc:  # keep refreshing; show why this round failed
                self.status.value = f"<span style='color:#d62728'>refresh failed: {html.escape(str(exc))}</span>"

    @property
    def refreshing(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def _closed(self) -> bool:
        return getattr(self, "comm", None) is None

    def close(self) -> None:
        self.stop_refresh()
        if self._owns_ws:
            self._owns_ws = False
            self.ws.close()
        for child in self._all_children(self):
            child.close()
        super().close()

    @staticmethod
    def _all_children(widget: w.Widget) -> list[w.Widget]:
        out = []
        for c in getattr(widget, "children", ()):
            out.append(c)
            out += Dashboard._all_children(c)
        return out

    # -- static fallback ------------------------------------------------------
    def to_html(self, *, full_html: bool = False, include_plotlyjs: bool | str = "cdn") -> str:
        """The dashboard as static HTML: interactive plotly figures and plain tables, no kernel needed."""
        parts = [f"<div class='nbops-dashboard'><h3>{html.escape(self.title)}</h3>"]
        first = True
        for part in self.static_parts():
            if isinstance(part, str):
                parts.append(part)
            else:
                parts.append(pio.to_html(go.Figure(part), full_html=False,
                                         include_plotlyjs=include_plotlyjs if first else False))
                first = False
        parts.append("</div>")
        body = "\n".join(parts)
        if full_html:
            return f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{body}</body></html>"
        return body

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/html"] = self.to_html()
        return data


def table_html(frame: Any, *, max_rows: int = 200) -> str:
    """A plain HTML table (what GitHub and nbconvert show)."""
    return frame.head(max_rows).to_html(index=False, border=0, classes="nbops-table", na_rep="—",
                                        escape=True)


def figure_widget(fig: go.Figure) -> go.FigureWidget:
    """A FigureWidget of ``fig`` made safe for the comm (see :func:`json_safe`)."""
    # ``fig`` was validated as it was built: a second validation of 10,000-point traces (a
    # Python call per value) would cost more than the rest of a dashboard.
    widget = go.FigureWidget(fig, _validate=False)
    if _has_nan(widget._data) or _has_nan(widget._layout):  # checked on what the comm would send
        widget = go.FigureWidget(_clean({"data": widget._data, "layout": widget._layout}),
                                 _validate=False)
    return widget


def json_safe(fig: go.Figure) -> go.Figure:
    """``fig`` with every NaN replaced by None (a gap in the plot).

    A widget's state travels to the browser as strict JSON, where NaN is invalid: the
    message fails to serialize and the frontend draws empty axes (a run without some
    metric is enough). Figures without NaN are returned as they are.
    """
    spec = fig.to_plotly_json()
    if not _has_nan(spec):
        return fig
    return go.Figure(_clean(spec))


def _has_nan(v: Any) -> bool:
    if isinstance(v, dict):
        return any(_has_nan(x) for x in v.values())
    if isinstance(v, list | tuple):
        if v and isinstance(v[0], float | int) and not isinstance(v[0], bool):
            try:  # a list of numbers (10,000 runs' values): one vectorized check
                return bool(np.isnan(np.asarray(v, dtype=np.float64)).any())
            except (TypeError, ValueError):
                pass
        return any(_has_nan(x) for x in v)
    if isinstance(v, np.ndarray):
        return bool(np.isnan(v).any()) if v.dtype.kind == "f" else v.dtype.kind == "O" and _has_nan(list(v.ravel()))
    return isinstance(v, float) and math.isnan(v)


def _clean(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, np.ndarray):
        return _clean(v.tolist()) if v.dtype.kind in "fO" else v
    return None if isinstance(v, float) and math.isnan(v) else v
