"""The active run, kept in a ContextVar (never a module global); importing this is cheap."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from nbops.errors import NbopsError

if TYPE_CHECKING:
    from nbops.tracking.run import Run

current_run: ContextVar[Run | None] = ContextVar("nbops_current_run", default=None)


def active_run() -> Run:
    run = current_run.get()
    if run is None:
        raise NbopsError("no active run", hint="use `with ws.run():`, `with nbops.track():` or a %%track cell")
    return run


def log_param(key: str, value: Any) -> None:
    """Record a parameter on the active run."""
    active_run().log_param(key, value)


def log_params(params: dict[str, Any]) -> None:
    active_run().log_params(params)


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Record a metric on the active run; repeated calls without ``step`` count steps up."""
    active_run().log_metric(key, value, step=step)


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    active_run().log_metrics(metrics, step=step)
