"""Monitoring: prediction/outcome logs, window reports, drift against the training data, alerts.

::

    import nbops.monitor as mon
    mon.log_predictions("churn@prod", features=X, predictions=y_hat, latency_ms=ms)
    mon.log_outcomes(request_ids, y_true)
    rep = mon.report("churn@prod", window="1h")      # rep.summary, rep.performance, rep.drift
    mon.add_rule("churn-drift", model="churn", metric="drift_share", comparison=">",
                 threshold=0.3, channels=["webhook:https://..."], trigger_schedule="retrain")
    mon.check()                                       # evaluate every rule; deliver; trigger
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from nbops.monitor.alerting import CheckResult
    from nbops.monitor.logger import PredictionLogger
    from nbops.monitor.reporting import Report
    from nbops.workspace import Workspace

__all__ = ["ack", "add_rule", "alerts", "check", "compact", "flush", "get_logger", "history",
           "log_outcomes", "log_predictions", "remove_rule", "report", "rules", "timeline"]

_LOGGERS: dict[str, PredictionLogger] = {}
_LOGGERS_LOCK = threading.Lock()


def _ws(ws: Workspace | None) -> Workspace:
    if ws is not None:
        return ws
    from nbops.workspace import Workspace

    return Workspace.open()


def get_logger(ws: Workspace | None = None, **options: Any) -> PredictionLogger:
    """The buffered logger of a workspace (one per data path and process)."""
    from nbops.monitor.files import LogFiles
    from nbops.monitor.logger import PredictionLogger

    w = _ws(ws)
    key = w.settings.data_path
    with _LOGGERS_LOCK:
        lg = _LOGGERS.get(key)
        if lg is None or options:
            if lg is not None:
                lg.close()

            def resolve(ref: str) -> tuple[str, int | None]:
                from nbops import registry

                mv = registry.resolve(ref, ws=w)
                return mv.name, mv.version

            lg = PredictionLogger(LogFiles.for_settings(w.settings), resolve=resolve, **options)
            _LOGGERS[key] = lg
        return lg


def log_predictions(model: str, features: Any = None, predictions: Any = None, *,
                    scores: Any = None, request_ids: Any = None, latency_ms: Any = None,
                    timestamp: Any = None, error: Any = None,
                    ws: Workspace | None = None) -> list[str]:
    """Log a batch of predictions (never raises; see ``get_logger().stats()``)."""
    try:
        lg = get_logger(ws)
    except Exception:  # no workspace: nothing to log into, and still never into the caller
        return []
    return lg.log_predictions(model, features, predictions, scores=scores, request_ids=request_ids,
                              latency_ms=latency_ms, timestamp=timestamp, error=error)


def log_outcomes(request_ids: Any, y_true: Any, *, timestamp: Any = None,
                 ws: Workspace | None = None) -> None:
    try:
        lg = get_logger(ws)
    except Exception:
        return
    lg.log_outcomes(request_ids, y_true, timestamp=timestamp)


def flush(ws: Workspace | None = None) -> dict[str, Any]:
    lg = get_logger(ws)
    lg.flush()
    return lg.stats()


def compact(ws: Workspace | None = None, min_files: int = 2) -> int:
    """Merge the small files of every log partition; returns how many files were merged."""
    from nbops.monitor.files import LogFiles

    files = LogFiles.for_settings(_ws(ws).settings)
    return sum(files.compact(p, min_files) for kind in ("predictions", "outcomes")
               for p in files.partitions(kind))


def report(model: str, window: str | timedelta = "1h", *, since: Any = None, until: Any = None,
           reference: Any = None, drift: bool = True, store: bool = True,
           ws: Workspace | None = None) -> Report:
    from nbops.monitor.reporting import Monitor

    return Monitor(_ws(ws)).report(model, window=window, since=since, until=until,
                                   reference=reference, drift=drift, store=store)


def timeline(model: str, window: str | timedelta = "1h", *, bucket: str = "5m", since: Any = None,
             until: Any = None, ws: Workspace | None = None) -> pd.DataFrame:
    from nbops.monitor.reporting import Monitor

    return Monitor(_ws(ws)).timeline(model, window=window, since=since, until=until, bucket=bucket)


def history(model: str | None = None, metric: str | None = None,
            ws: Workspace | None = None) -> pd.DataFrame:
    """Stored report figures over time (one row per window, metric and feature)."""
    from nbops.catalog.monitor import MonitorRepository

    return MonitorRepository(_ws(ws).catalog).report_history(model, metric)


def add_rule(name: str, *, model: str, metric: str, ws: Workspace | None = None,
             actor: str | None = None, **options: Any) -> Any:
    from nbops.monitor.alerting import add_rule as _add

    return _add(_ws(ws), name, model=model, metric=metric, actor=actor, **options)


def remove_rule(name: str, *, ws: Workspace | None = None, actor: str | None = None) -> None:
    from nbops.monitor.alerting import remove_rule as _remove

    _remove(_ws(ws), name, actor=actor)


def rules(model: str | None = None, *, ws: Workspace | None = None) -> pd.DataFrame:
    from nbops.monitor.alerting import list_rules

    return list_rules(_ws(ws), model)


def check(*, ws: Workspace | None = None, now: Any = None) -> CheckResult:
    from nbops.monitor.alerting import check as _check

    return _check(_ws(ws), now=now)


def alerts(*, history: bool = False, rule: str | None = None,
           ws: Workspace | None = None) -> pd.DataFrame:
    from nbops.monitor.alerting import alert_table

    return alert_table(_ws(ws), history=history, rule=rule)


def ack(rule: str, *, note: str = "", ws: Workspace | None = None, actor: str | None = None) -> None:
    from nbops.monitor.alerting import acknowledge

    acknowledge(_ws(ws), rule, note=note, actor=actor)
