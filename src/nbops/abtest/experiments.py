"""Experiments: define, start, stop and conclude A/B, shadow and canary tests between model versions.

An experiment's variants are registry refs (``churn@production``). They are resolved to
versions when the experiment is created and pinned again when it starts, so an alias
moving mid-experiment does not change what a variant serves, and the registry refuses
to delete a pinned version while the experiment runs.

``Experiment.predict(unit_ids, X)`` is the one entry point for serving: a notebook
calls it with a batch, and an HTTP server can call it per request. It assigns, predicts
with each variant's model, and logs the exposures as one Parquet batch.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)

from nbops.abtest import assignment
from nbops.abtest.report import Decision, Report, Summary, analyze
from nbops.abtest.spec import (
    ExperimentError,
    Guardrail,
    Metric,
    MetricKind,
    guardrails_from_json,
    parse_metric,
)
from nbops.catalog.abtest import ExperimentRepository
from nbops.catalog.abtest_records import ExperimentRow, ExperimentStatus, FileKind, Mode, VariantRow
from nbops.config import current_user

if TYPE_CHECKING:
    from nbops.workspace import Workspace

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")
Status = ExperimentStatus


def _now() -> datetime:
    return datetime.now(UTC)


class Experiment:
    """One experiment in one workspace, acting as ``actor``."""

    def __init__(self, ws: Workspace, row: ExperimentRow, *, actor: str | None = None,
                 owns_ws: bool = False) -> None:
        self.ws, self.row, self.actor = ws, row, actor or current_user()
        self.repo = ExperimentRepository(ws.catalog)
        self._owns_ws = owns_ws
        self._models: dict[str, Any] = {}
        self._sticky: assignment.StickyAssigner | None = None
        self._sticky_files = -1
        self._sticky_checked = 0.0
        self._pinned: dict[str, str] | None = None
        self._history: tuple[int, bool] | None = None

    # -- definition -------------------------------------------------------
    @property
    def name(self) -> str:
        return self.row.name

    @property
    def status(self) -> ExperimentStatus:
        return ExperimentStatus(self.row.status)

    @property
    def mode(self) -> Mode:
        return Mode(self.row.mode)

    @property
    def variants(self) -> dict[str, str]:
        return json.loads(self.row.variants)

    @property
    def control(self) -> str:
        return next(iter(self.variants))

    @property
    def weights(self) -> dict[str, float]:
        return json.loads(self.row.weights)

    @property
    def metric(self) -> Metric:
        return parse_metric(json.loads(self.row.metric))

    @property
    def guardrails(self) -> list[Guardrail]:
        return guardrails_from_json(self.row.guardrails)

    def pinned(self) -> dict[str, str]:
        """Variant -> the registered version it serves (``name@vN``)."""
        if self._pinned is None:
            self._pinned = self._load_pinned()
        return self._pinned

    def _load_pinned(self) -> dict[str, str]:
        return {v.variant: f"{v.model_name}@v{v.model_version}" for v in self.repo.variants(None, self.name)}

    def current_weights(self, now: datetime | None = None) -> dict[str, float]:
        """The weights new units follow now (shadow: all to control; canary: the ramp step)."""
        names = list(self.variants)
        if self.mode == Mode.SHADOW:
            return {v: float(v == self.control) for v in names}
        if self.mode == Mode.CANARY and self.row.ramp:
            elapsed = ((now or _now()) - self.row.started_at).total_seconds() if self.row.started_at else 0
            w = [w for at, w in json.loads(self.row.ramp) if at <= elapsed][-1]
            return {names[0]: 1 - w, names[1]: w}
        return self.weights

    def refresh(self) -> Experiment:
        row = self.repo.current(None, self.name)
        if row is not None and row.revision != self.row.revision:
            self.row = row
            self._pinned = None
        return self

    def __repr__(self) -> str:
        return f"<Experiment {self.name} {self.mode} {self.status} {self.variants}>"

    # -- state changes ----------------------------------------------------
    def _change(self, action: Any, event: str, *, allowed: Iterable[Status], details: dict[str, Any],
                pin: bool = False, **changes: Any) -> None:
        from nbops.governance.context import authorize_and_audit

        def tx(con: Any) -> ExperimentRow:
            cur = self.repo.current(con, self.name)
            assert cur is not None
            if ExperimentStatus(cur.status) not in set(allowed):
                raise ExperimentError(f"experiment {self.name} is {cur.status}: cannot {event.split('.')[-1]}",
                                      hint="see `nbops ab list`")
            row = replace(cur, revision=cur.revision + 1, changed_by=self.actor, changed_at=_now(),
                          **changes)
            variants = _resolve(self.ws, json.loads(row.variants), self.name, row.revision) if pin else None
            self.repo.append(con, row, variants)
            authorize_and_audit(self.ws.catalog, con, actor=self.actor, action=action, event=event,
                                target=f"experiment:{self.name}", details=details)
            return row

        self.row = self.ws.catalog.transaction(tx)
        self._sticky_files = -1
        self._pinned = None

    def start(self) -> Experiment:
        """Pin each variant's version and start routing units to it (audited)."""
        from nbops.governance.identity import Action

        self._change(Action.START_EXPERIMENT, "ab.start", allowed=[Status.DRAFT, Status.STOPPED],
                     details={"weights": self.weights, "mode": str(self.mode)}, pin=True,
                     status=str(Status.RUNNING), started_at=self.row.started_at or _now())
        self._models.clear()
        return self

    def stop(self, reason: str = "") -> Experiment:
        from nbops.governance.identity import Action

        self._change(Action.STOP_EXPERIMENT, "ab.stop", allowed=[Status.RUNNING],
                     details={"reason": reason}, status=str(Status.STOPPED), reason=reason or None)
        return self

    def set_weights(self, weights: Mapping[str, float] | Sequence[float]) -> Experiment:
        """New weights for units not yet exposed; exposed units keep their variant."""
        from nbops.governance.identity import Action

        w = assignment.normalize_weights(list(self.variants), weights)
        self._change(Action.CHANGE_EXPERIMENT, "ab.weights", allowed=[Status.DRAFT, Status.RUNNING,
                                                                       Status.STOPPED],
                     details={"weights": w}, weights=json.dumps(w))
        return self

    def conclude(self, winner: str, *, promote: str | None = None, alias: str = "production",
                 reason: str = "") -> str | None:
        """Close the experiment with ``winner``; ``promote="perform"`` moves ``alias`` to the
        winner's version now (under the alias's policy), ``"request"`` files a promotion request.
        Returns the request id for ``"request"``."""
        from nbops.governance.identity import Action

        if winner not in self.variants:
            raise ExperimentError(f"{winner!r} is not a variant of {self.name}",
                                  hint=f"one of {', '.join(self.variants)}")
        if promote not in (None, "perform", "request"):
            raise ExperimentError("promote is None, 'perform' or 'request'")
        target = self.pinned().get(winner) or _resolve_one(self.ws, self.variants[winner])
        self._change(Action.CONCLUDE_EXPERIMENT, "ab.conclude", allowed=[Status.RUNNING, Status.STOPPED],
                     details={"winner": winner, "version": target, "promote": promote, "alias": alias},
                     status=str(Status.CONCLUDED), winner=winner, reason=reason or None)
        return _promote(self.ws, self.actor, target, alias, promote, f"A/B test {self.name}: {reason}")

    # -- assignment and serving -------------------------------------------
    def _assigner(self) -> assignment.StickyAssigner:
        """Sticky assignment; first exposures are (re)loaded when new log files appeared."""
        if self._sticky is None:
            self._sticky = assignment.StickyAssigner(list(self.variants), self.row.salt)
        # Exposures written elsewhere are looked for at most once a second: a server calls
        # this per request, and this process's own exposures are remembered as it writes them.
        if self._needs_history() and (self._sticky_files < 0 or time.monotonic() - self._sticky_checked >= 1.0):
            self._sticky_checked = time.monotonic()
            files = len(self.repo.files(self.name, FileKind.EXPOSURES))
            if files != self._sticky_files:
                self._sticky.load(self.repo.first_exposures(self.name))
                self._sticky_files = files
        return self._sticky

    def _needs_history(self) -> bool:
        # With weights that never changed, the hash alone is each unit's first variant.
        if self.mode == Mode.CANARY:
            return True
        if self._history is None or self._history[0] != self.row.revision:
            changed = len({r.weights for r in self.repo.revisions(None, self.name)}) > 1
            self._history = (self.row.revision, changed)
        return self._history[1]

    def assign(self, unit_ids: Iterable[Any] | np.ndarray, *, record: bool | None = None) -> np.ndarray:
        """Variant per unit. While running, the assignment is recorded as an exposure (one batch)."""
        keys = assignment.unit_keys(unit_ids)
        out = self._assigner().assign(keys, self.current_weights())
        if record if record is not None else self.status == Status.RUNNING:
            self._require_running()
            self._log_exposures(keys, out, [None] * len(keys), [None] * len(keys), shadow=None)
        return out

    def _require_running(self) -> None:
        if self.status != Status.RUNNING:
            raise ExperimentError(f"experiment {self.name} is {self.status}",
                                  hint=f"start it with `nbops ab start {self.name}`")

    def model(self, variant: str) -> Any:
        if variant not in self._models:
            from nbops import registry

            ref = self.pinned().get(variant) or self.variants[variant]
            self._models[variant] = registry.load(ref, ws=self.ws)
        return self._models[variant]

    def predict(self, unit_ids: Iterable[Any] | np.ndarray, X: Any) -> pd.DataFrame:
        """Assign each row's unit, predict with its variant's model, log the exposures.

        Returns one row per input row (X's index): ``unit_id``, ``variant``, ``prediction`` and
        ``error`` (a variant whose model raises is answered by control and the error is
        counted against it). Shadow mode predicts with every variant and answers with control.
        """
        from nbops.abtest.predict import predict_batch

        self._require_running()
        return predict_batch(self, unit_ids, X)

    def _log_exposures(self, keys: Sequence[str], variants: Sequence[str] | np.ndarray,
                       predictions: Sequence[Any],
                       errors: Sequence[str | None], *, shadow: Sequence[bool] | None,
                       request_ids: Sequence[str] | None = None) -> None:
        """One Parquet batch of exposures, built as Arrow columns (no per-row Python objects)."""
        n = len(keys)
        pinned = self.pinned()
        variant_arr = pa.array(variants, pa.string())
        refs = pa.array([pinned.get(v) for v in self.variants], pa.string())
        index = pa.compute.index_in(variant_arr, pa.array(list(self.variants), pa.string()))
        no_values = all(p is None for p in predictions)
        table = pa.table({
            "request_id": pa.array(request_ids, pa.string()) if request_ids is not None
            else pa.nulls(n, pa.string()),
            "unit_id": pa.array(keys, pa.string()), "variant": variant_arr,
            "model_ref": refs.take(index),
            "shadow": pa.array(np.zeros(n, bool) if shadow is None else np.asarray(shadow, bool)),
            "prediction": pa.nulls(n, pa.string()) if no_values else
            pa.array([None if p is None else str(p) for p in predictions], pa.string()),
            "error": pa.array(errors, pa.string()) if any(e is not None for e in errors)
            else pa.nulls(n, pa.string()),
            "ts": pa.array(np.full(n, np.datetime64(_now().replace(tzinfo=None), "us")),
                           pa.timestamp("us", tz="UTC"))})
        self.repo.write_batch(self.name, FileKind.EXPOSURES, table, self.actor)
        if self._sticky_files >= 0:  # our own file is remembered below: no need to re-read it
            self._sticky_files += 1
        if self._sticky is not None:
            served = ~np.asarray(table["shadow"])
            self._sticky.remember(list(np.asarray(keys, dtype=object)[served]),
                                  list(np.asarray(variants, dtype=object)[served]))

    def log_outcomes(self, unit_ids: Iterable[Any] | np.ndarray, values: Iterable[float] | np.ndarray) -> int:
        """Append outcomes (conversions, revenue, ...) per unit as one Parquet batch."""
        keys = assignment.unit_keys(unit_ids)
        vals = np.asarray(list(values) if not isinstance(values, np.ndarray | pd.Series) else values, float)
        if len(vals) != len(keys):
            raise ExperimentError(f"{len(keys)} unit ids but {len(vals)} values")
        if not np.isfinite(vals).all():
            raise ExperimentError("outcome values must be finite numbers", hint="drop NaN/inf rows first")
        table = pa.table({"unit_id": pa.array(keys, pa.string()), "value": vals,
                          "ts": pa.array(np.full(len(keys), np.datetime64(_now().replace(tzinfo=None), "us")),
                                         pa.timestamp("us", tz="UTC"))})
        self.repo.write_batch(self.name, FileKind.OUTCOMES, table, self.actor)
        return len(keys)

    # -- analysis -----------------------------------------------------------
    def report(self, *, alpha: float = 0.05, min_units: int = 100, tau: float = 0.1,
               pre_period: pd.Series | Mapping[Any, float] | None = None,
               enforce: bool = True) -> Report:
        """The decision with its reasons. A breached guardrail stops a running experiment
        (audited) unless ``enforce=False``. ``pre_period``: a covariate per unit id (CUPED)."""
        self.refresh()
        metric = self.metric
        units = None if pre_period is None else self.repo.unit_outcomes(self.name, metric.agg)
        summary = self.repo.variant_summary(self.name, metric.agg, metric.kind == MetricKind.BINARY)
        sums = {r["variant"]: Summary(int(r["units"]), int(r["n"]), float(r["total"]), float(r["total_sq"]))
                for r in summary.to_dict("records")}
        health = {r["variant"]: {"requests": float(r["requests"]), "errors": float(r["errors"])}
                  for r in self.repo.variant_health(self.name).to_dict("records")}
        weights = None if self._needs_history() or self.mode == Mode.SHADOW else self.weights
        agree = self.repo.shadow_agreement(self.name, self.control) if self.mode == Mode.SHADOW else None
        pre = None if pre_period is None else pd.Series(pre_period, dtype=float)
        rep = analyze(self.name, str(self.status), str(self.mode), sums, list(self.variants), weights,
                      metric, guardrails=self.guardrails, health=health, alpha=alpha,
                      min_units=min_units, tau=tau, units=units, pre_period=pre,
                      shadow_agreement=agree)
        if rep.decision == Decision.GUARDRAIL and enforce and self.status == Status.RUNNING:
            self.stop("guardrail: " + "; ".join(rep.breaches))
            rep = replace(rep, status=str(self.status))
        return rep

    def check(self) -> Report:
        """Evaluate guardrails now (stops the experiment on a breach)."""
        return self.report(enforce=True)

    def close(self) -> None:
        if self._owns_ws:
            self._owns_ws = False
            self.ws.close()


def _resolve_one(ws: Workspace, ref: str) -> str:
    from nbops import registry

    return registry.resolve(ref, ws=ws).ref


def _resolve(ws: Workspace, variants: Mapping[str, str], name: str, revision: int) -> list[VariantRow]:
    from nbops import registry

    rows = []
    for variant, ref in variants.items():
        mv = registry.resolve(ref, ws=ws)
        rows.append(VariantRow(name, revision, variant, ref, mv.name, mv.version))
    return rows


def _promote(ws: Workspace, actor: str, target: str, alias: str, how: str | None, reason: str) -> str | None:
    if how is None:
        return None
    model, version = target.split("@v")
    if how == "perform":
        from nbops import registry

        registry.promote(model, int(version), alias, reason, ws=ws, actor=actor)
        return None
    from nbops import governance

    return governance.request_promotion(model, int(version), alias, reason, ws=ws, actor=actor)
