"""What one server process holds: its workspace, models, experiments, keys, metrics and request log,
and the background thread that keeps them current.

The background thread (``nbops-serve-poll``) does every catalog read and write the
server needs, so the request path does none once a model is loaded:

- every ``reload_interval_s`` (2 s): one read of all aliases and latest versions
  (models whose alias moved are loaded, then switched), experiment revisions, API keys
  and role grants;
- every ``flush_interval_s`` (5 s): the gathered exposures and outcomes of experiments;
- every ``check_interval_s`` (30 s): the guardrails of running experiments.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbops.config import current_user
from nbops.serve.experiments import ExperimentTable
from nbops.serve.keys import KeyRing
from nbops.serve.metrics import Metrics
from nbops.serve.models import ModelTable
from nbops.serve.requestlog import RequestLog

if TYPE_CHECKING:
    from nbops.workspace import Workspace

log = logging.getLogger("nbops.serve")


@dataclass
class ServeConfig:
    """How a server runs. ``auth=False`` is for local development on loopback only."""

    auth: bool = True
    trust: bool = False                 # load joblib/cloudpickle models (registered with trust=True)
    log_requests: bool = True           # every request into the monitoring prediction log
    reload_interval_s: float = 2.0
    flush_interval_s: float = 5.0      # experiment exposures and outcomes: one Parquet batch each per flush
    check_interval_s: float = 30.0
    alert_channels: list[str] = field(default_factory=list)
    actor: str | None = None            # who stops experiments on a guardrail breach (default: OS user)


class ServerState:
    def __init__(self, ws: Workspace, config: ServeConfig, *, owns_ws: bool = False) -> None:
        from nbops.monitor import get_logger
        from nbops.monitor.channels import parse_channel

        self.ws, self.config, self._owns_ws = ws, config, owns_ws
        self.actor = config.actor or current_user()
        self.models = ModelTable(ws, trust=config.trust)
        self.experiments = ExperimentTable(ws, actor=self.actor,
                                           alert_channels=[parse_channel(c) for c in config.alert_channels])
        self.keys = KeyRing(ws)
        self.metrics = Metrics()
        self.logger = get_logger(ws)
        self.requests = RequestLog(self.logger if config.log_requests else None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.config.auth:
            self.keys.refresh()
        self.requests.start()
        self._thread = threading.Thread(target=self._loop, name="nbops-serve-poll", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        c = self.config
        tasks: list[tuple[float, Callable[[], Any]]] = [
            (c.reload_interval_s, self.reload), (c.flush_interval_s, self.experiments.flush),
            (c.check_interval_s, self.experiments.check)]
        last = [time.monotonic()] * len(tasks)
        tick = min(0.1, *(t for t, _ in tasks))
        while not self._stop.wait(tick):
            for i, (every, fn) in enumerate(tasks):
                if time.monotonic() - last[i] >= every:
                    _safely(fn)
                    last[i] = time.monotonic()

    def reload(self) -> None:
        moved = self.models.refresh()
        if moved:
            log.info("aliases moved: %s", ", ".join(moved))
        self.experiments.refresh()
        if self.config.auth:
            self.keys.refresh()

    def close(self) -> None:
        """Stop the thread, write everything gathered (no request's log row is lost)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        _safely(self.experiments.flush)
        self.requests.close()
        if self._owns_ws:
            self.ws.close()


def _safely(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception as exc:  # the server keeps serving; the next round tries again
        log.warning("background task %s failed: %s", getattr(fn, "__name__", fn), exc)
