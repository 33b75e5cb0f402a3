"""Experiments as the server runs them: routing through ``Experiment``'s own assignment,
exposures and outcomes gathered and written in batches, guardrails checked in the background.

Routing is :func:`nbops.abtest.predict.route_batch` — the same assignment and shadow/
canary logic a notebook uses — with the server's request ids; only the writing differs:
exposures and outcomes are buffered per experiment and written as one Parquet batch each
time the background thread flushes (every ``flush_interval_s``), instead of one file and
one catalog commit per request. A stopped or concluded experiment is answered by its
control (``experiment_status`` in the answer says so); a draft one is refused (409).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from nbops.abtest.predict import Exposures, log_exposures, route_batch
from nbops.abtest.report import Decision
from nbops.catalog.abtest import ExperimentRepository
from nbops.catalog.abtest_records import ExperimentStatus
from nbops.catalog.serve import ServeRepository
from nbops.governance.errors import RegistryConflict
from nbops.serve.schema import Schema, training_schema

if TYPE_CHECKING:
    import pandas as pd

    from nbops.abtest.experiments import Experiment
    from nbops.workspace import Workspace

log = logging.getLogger("nbops.serve")
_RECENT = 200_000  # request id -> (experiment, unit) kept for outcomes given by request id


class ExperimentTable:
    def __init__(self, ws: Workspace, *, actor: str, alert_channels: list[dict[str, Any]] | None = None
                 ) -> None:
        self.ws, self.actor = ws, actor
        self.alert_channels = alert_channels or []
        self.repo = ExperimentRepository(ws.catalog)
        self._exps: dict[str, Experiment] = {}
        self._exposures: dict[str, Exposures] = {}
        self._outcomes: dict[str, tuple[list[str], list[float]]] = {}
        self._recent: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._halted: set[str] = set()
        self._schemas: dict[str, Schema | None] = {}
        self.breaches: list[dict[str, Any]] = []

    # -- request path ---------------------------------------------------------
    def cached(self, name: str) -> Experiment | None:
        return self._exps.get(name)

    def get(self, name: str) -> Experiment:
        """The experiment with its variants' models loaded (blocking on first use: call off the loop)."""
        exp = self._exps.get(name)
        if exp is None:
            exp = self._open(name)
            with self._lock:
                exp = self._exps.setdefault(name, exp)
        return exp

    def _open(self, name: str) -> Experiment:
        from nbops.abtest.api import get

        exp = get(name, ws=self.ws, actor=self.actor)
        if exp.status in (ExperimentStatus.RUNNING, ExperimentStatus.STOPPED, ExperimentStatus.CONCLUDED):
            for variant in exp.variants:
                exp.model(variant)
            self._schemas[name] = self._schema(exp)
        return exp

    def _schema(self, exp: Experiment) -> Schema | None:
        """The control's training schema: every variant is asked the same features."""
        from nbops import registry

        mv = registry.resolve(exp.pinned().get(exp.control) or exp.variants[exp.control], ws=self.ws)
        datasets = ServeRepository(self.ws.catalog).training_schemas(mv.run_id) if mv.run_id else []
        return training_schema(exp.model(exp.control), datasets)

    def schema(self, name: str) -> Schema | None:
        return self._schemas.get(name)

    def route(self, exp: Experiment, unit_ids: list[Any], X: pd.DataFrame, request_ids: list[str]
              ) -> tuple[pd.DataFrame, Exposures]:
        """Assign and predict (no I/O for the common case); the exposures are queued."""
        if exp.status == ExperimentStatus.DRAFT:
            raise RegistryConflict(f"experiment {exp.name} is not started",
                                   hint=f"start it with `nbops ab start {exp.name}`")
        if exp.status != ExperimentStatus.RUNNING or exp.name in self._halted:
            return self._control_only(exp, unit_ids, X), Exposures()
        frame, exposures = route_batch(exp, unit_ids, X, request_ids)
        with self._lock:
            self._exposures.setdefault(exp.name, Exposures()).extend(exposures)
            for rid, key in zip(request_ids, frame["unit_id"], strict=True):
                self._recent[rid] = (exp.name, key)
            while len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        return frame, exposures

    def _control_only(self, exp: Experiment, unit_ids: list[Any], X: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        from nbops.abtest.assignment import unit_keys

        preds = exp.model(exp.control).predict(X)
        return pd.DataFrame({"unit_id": unit_keys(unit_ids), "variant": exp.control,
                             "prediction": list(preds), "error": None})

    def add_outcomes(self, name: str, unit_ids: list[str], values: list[float]) -> None:
        with self._lock:
            keys, vals = self._outcomes.setdefault(name, ([], []))
            keys.extend(unit_ids)
            vals.extend(values)

    def unit_of(self, request_id: str) -> tuple[str, str] | None:
        """(experiment, unit id) of a recent experiment request answered by this process."""
        return self._recent.get(request_id)

    # -- background -------------------------------------------------------------
    def flush(self) -> None:
        """Write the gathered exposures and outcomes (one Parquet batch per experiment and kind).

        One flush at a time, so a flush that returns has also waited for one in flight."""
        with self._flush_lock:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            exposures, self._exposures = self._exposures, {}
            outcomes, self._outcomes = self._outcomes, {}
        for name, e in exposures.items():
            try:
                log_exposures(self._exps[name], e)
            except Exception as exc:  # keep them for the next flush
                log.warning("writing exposures of %s failed: %s", name, exc)
                with self._lock:
                    self._exposures.setdefault(name, Exposures()).extend(e)
        for name, (keys, vals) in outcomes.items():
            try:
                self._exps[name].log_outcomes(keys, vals)
            except Exception as exc:
                log.warning("writing outcomes of %s failed: %s", name, exc)
                with self._lock:
                    k, v = self._outcomes.setdefault(name, ([], []))
                    k.extend(keys)
                    v.extend(vals)

    def refresh(self) -> None:
        """Pick up state changes made elsewhere (start, stop, weights, conclude), models loaded first."""
        for name, exp in list(self._exps.items()):
            row = self.repo.current(None, name)
            if row is not None and row.revision != exp.row.revision:
                fresh = self._open(name)
                with self._lock:
                    self._exps[name] = fresh
                    if fresh.status == ExperimentStatus.RUNNING and fresh.row.revision > exp.row.revision:
                        self._halted.discard(name)  # restarted after a breach

    def check(self) -> None:
        """Evaluate the guardrails of every running experiment served here; a breach stops it and alerts."""
        self.flush()
        for name, exp in list(self._exps.items()):
            if exp.status != ExperimentStatus.RUNNING:
                continue
            try:
                rep = exp.report(enforce=False)
            except Exception as exc:
                log.warning("guardrail check of %s failed: %s", name, exc)
                continue
            if rep.decision == Decision.GUARDRAIL:
                self._halted.add(name)  # control answers from now on, even if the stop below fails
                try:
                    exp.stop("guardrail: " + "; ".join(rep.breaches))
                except Exception as exc:
                    log.error("could not stop experiment %s: %s", name, exc)
                self._alert(exp, list(rep.breaches))

    def _alert(self, exp: Experiment, breaches: list[str]) -> None:
        from nbops.monitor.channels import deliver

        message = f"experiment {exp.name} stopped by its guardrails: {'; '.join(breaches)}"
        log.error(message)
        payload = {"rule": f"experiment:{exp.name}", "state": "firing", "severity": "critical",
                   "experiment": exp.name, "status": str(exp.status), "breaches": breaches,
                   "message": message, "fire_id": f"{exp.name}:{exp.row.revision}"}
        self.breaches.append(payload)
        for channel in self.alert_channels:
            d = deliver(channel, payload)
            if not d.ok:
                log.error("alert to %s failed: %s", d.channel, d.error)
