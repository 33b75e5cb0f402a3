"""nbops: notebook-first MLOps on one DuckLake catalog.

Importing nbops is cheap; the catalog, pandas and DuckDB load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbops._active import active_run, log_metric, log_metrics, log_param, log_params
from nbops.errors import NbopsError

if TYPE_CHECKING:
    from nbops.magics import load_ipython_extension, unload_ipython_extension
    from nbops.tracking.script import track
    from nbops.workspace import Workspace, open

__version__ = "0.1.0"

__all__ = [
    "NbopsError",
    "Workspace",
    "__version__",
    "active_run",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "load_ipython_extension",
    "open",
    "track",
    "unload_ipython_extension",
]

_LAZY = {
    "Workspace": "nbops.workspace",
    "open": "nbops.workspace",
    "track": "nbops.tracking.script",
    # `%load_ext nbops` finds these; IPython is imported only then.
    "load_ipython_extension": "nbops.magics",
    "unload_ipython_extension": "nbops.magics",
}


_SUBPACKAGES = {"registry", "governance", "pipelines", "gates", "monitor", "abtest"}
# `from nbops import show`: dashboards (plotly and ipywidgets load only when one is built);
# `nbops.ab`: A/B experiments.
_MODULES = {"show": "nbops.widgets.show", "ab": "nbops.abtest"}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        import importlib

        return importlib.import_module(_MODULES[name])
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"nbops.{name}")
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nbops' has no attribute {name!r}")
