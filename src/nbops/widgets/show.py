"""``nbops.show``: interactive dashboards in the notebook (plotly + ipywidgets).

Each function returns a widget that draws itself in JupyterLab, keeps a static
HTML fallback for nbconvert and GitHub (``.to_html()``), and, with
``refresh=SECONDS``, re-reads the catalog until it is closed. ``theme`` is
'auto' (follow JupyterLab), 'light' or 'dark'.

Every dashboard is a :class:`~nbops.widgets.base.Dashboard` subclass in its own
module plus a function here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbops.widgets.base import Dashboard
    from nbops.workspace import Workspace

__all__ = ["ab", "compare", "lineage", "model", "monitor", "pipeline", "runs"]


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


def monitor(model: str, *, window: str | timedelta = "1d", until: Any = None,
            bucket: str | timedelta | None = None, ws: Workspace | None = None,
            refresh: float | None = None, theme: str = "auto") -> Dashboard:
    """A model's predictions, error rate, performance on outcomes, drift per feature (with its
    threshold; also as a feature × time heat map), one feature's distribution against the
    training data (a dropdown picks another) and alert events over ``window`` up to ``until``
    (default: now)."""
    return _make("monitoring.MonitorDashboard", ws, model, window=window, until=until,
                 bucket=bucket, refresh=refresh, theme=theme)


def ab(experiment: Any, *, alpha: float = 0.05, tau: float = 0.1, min_units: int = 100,
       ws: Workspace | None = None, refresh: float | None = None, theme: str = "auto") -> Dashboard:
    """An experiment's lift per variant with intervals, the cumulative lift with its always-valid
    confidence sequence, P(better), the SRM check, units over time and the decision.
    ``experiment`` is its name or the object ``nbops.ab.create``/``get`` returned."""
    name = experiment if isinstance(experiment, str) else getattr(experiment, "name", experiment)
    return _make("experiment.ExperimentDashboard", ws, name, alpha=alpha, tau=tau,
                 min_units=min_units, refresh=refresh, theme=theme)
