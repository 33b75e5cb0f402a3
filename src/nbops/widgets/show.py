"""``nbops.show``: interactive dashboards in the notebook (plotly + ipywidgets).

Each function returns a widget that draws itself in JupyterLab, keeps a static
HTML fallback for nbconvert and GitHub (``.to_html()``), and, with
``refresh=SECONDS``, re-reads the catalog until it is closed. ``theme`` is
'auto' (follow JupyterLab), 'light' or 'dark'.

Monitoring (``show.monitor``) and A/B results (``show.ab``) plug in the same way:
a :class:`~nbops.widgets.base.Dashboard` subclass plus a function here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbops.widgets.base import Dashboard
    from nbops.workspace import Workspace

__all__ = ["compare", "lineage", "model", "pipeline", "runs"]


def _make(cls_path: str, ws: Workspace | None, *args: Any, **kwargs: Any) -> Dashboard:
    import importlib

    module, name = cls_path.rsplit(".", 1)
    cls = getattr(importlib.import_module(f"nbops.widgets.{module}"), name)
    if ws is not None:
        return cls(ws, *args, **kwargs)
    from nbops.workspace import Workspace

    opened = Workspace.open()
    try:
        return cls(opened, *args, owns_ws=True, **kwargs)
    except BaseException:
        opened.close()
        raise


def runs(filter: str | None = None, *, metrics: Sequence[str] | None = None,
         params: Sequence[str] | None = None, sort: str = "started_at", ascending: bool = False,
         limit: int | None = None, ws: Workspace | None = None, refresh: float | None = None,
         theme: str = "auto") -> Dashboard:
    """Runs table (filter, sort, select) linked to metrics over runs and steps and params → metric."""
    return _make("dashboards.RunsDashboard", ws, filter=filter, metrics=metrics, params=params,
                 sort=sort, ascending=ascending, limit=limit, refresh=refresh, theme=theme)


def compare(run_a: str, run_b: str, *, ws: Workspace | None = None, refresh: float | None = None,
            theme: str = "auto") -> Dashboard:
    """Two runs side by side: code diff, params, metrics, data changes, model hyperparameters."""
    return _make("dashboards.CompareDashboard", ws, run_a, run_b, refresh=refresh, theme=theme)


def lineage(ref: str, *, ws: Workspace | None = None, refresh: float | None = None,
            theme: str = "auto") -> Dashboard:
    """The graph data → cells → models → registry versions → aliases behind a run or artifact."""
    return _make("history.LineageDashboard", ws, ref, refresh=refresh, theme=theme)


def model(name: str, *, ws: Workspace | None = None, refresh: float | None = None,
          theme: str = "auto") -> Dashboard:
    """A registered model's versions, aliases over time, gates, approvals and audit entries."""
    return _make("history.ModelDashboard", ws, name, refresh=refresh, theme=theme)


def pipeline(schedule: str, *, ws: Workspace | None = None, refresh: float | None = None,
             theme: str = "auto") -> Dashboard:
    """A schedule's run history (status, duration, failing cell) and its next runs."""
    return _make("history.PipelineDashboard", ws, schedule, refresh=refresh, theme=theme)
