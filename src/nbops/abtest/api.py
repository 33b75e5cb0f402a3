"""Module-level entry points: ``nbops.ab.create``, ``nbops.ab.get``, ``nbops.ab.experiments``.

Each takes ``ws=`` or opens the workspace of the current directory; an experiment
that opened its own workspace closes it with ``Experiment.close()``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from nbops.abtest import assignment
from nbops.abtest.experiments import _NAME, Experiment, _now, _resolve
from nbops.abtest.spec import (
    ExperimentError,
    Guardrail,
    Metric,
    guardrails_json,
    metric_json,
    parse_guardrail,
    parse_metric,
    parse_ramp,
)
from nbops.catalog.abtest import ExperimentRepository
from nbops.catalog.abtest_records import ExperimentRow, ExperimentStatus, Mode
from nbops.config import current_user
from nbops.errors import NotFound

if TYPE_CHECKING:
    from nbops.workspace import Workspace


def _open(ws: Workspace | None) -> tuple[Workspace, bool]:
    if ws is not None:
        return ws, False
    from nbops.workspace import Workspace

    return Workspace.open(), True


def _check(name: str, variants: Mapping[str, str], mode: Mode, ramp: Any) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ExperimentError(f"invalid experiment name {name!r}",
                              hint="letters, digits, '_', '-' and '.', up to 100 characters")
    if len(variants) < 2:
        raise ExperimentError("an experiment needs at least two variants (control first)",
                              hint='variants={"control": "churn@production", "treatment": "churn@challenger"}')
    if mode == Mode.CANARY and (len(variants) != 2 or ramp is None):
        raise ExperimentError("a canary has exactly two variants and a ramp",
                              hint='ramp=[(0, 0.05), ("1h", 0.25), ("1d", 0.5)]')


def create(name: str, variants: Mapping[str, str], weights: Mapping[str, float] | Sequence[float] | None = None,
           *, unit: str = "unit_id", metric: str | Mapping[str, Any] | Metric | None = None,
           guardrails: Sequence[str | Mapping[str, Any] | Guardrail] = (), mode: str = "ab",
           ramp: Sequence[Sequence[Any]] | None = None, salt: str | None = None,
           ws: Workspace | None = None, actor: str | None = None) -> Experiment:
    """Define an experiment (status draft). The first variant is the control.

    ``variants`` maps variant names to registry refs; ``weights`` default to equal;
    ``metric`` is a name or ``{"name", "kind": "binary"|"continuous", "higher_is_better"}``;
    ``guardrails`` e.g. ``[{"error_rate": 0.02}, {"metric_floor": 0.05}]``; ``mode`` is
    ``ab``, ``shadow`` (every request answered by control, all variants predict) or
    ``canary`` (two variants, treatment weight follows ``ramp`` after the start).
    ``salt`` (default: random) seeds the assignment hash; give one to reproduce a split.
    """
    from nbops.governance.context import authorize_and_audit
    from nbops.governance.identity import Action

    try:
        m = Mode(mode)
    except ValueError:
        raise ExperimentError(f"unknown mode {mode!r}", hint="ab, shadow or canary") from None
    _check(name, variants, m, ramp)
    steps = parse_ramp(ramp)
    w = assignment.normalize_weights(list(variants), weights)
    met, guards = parse_metric(metric), [parse_guardrail(g) for g in guardrails]
    opened, owns = _open(ws)
    who, now = actor or current_user(), _now()
    repo = ExperimentRepository(opened.catalog)
    row = ExperimentRow(name, 1, str(ExperimentStatus.DRAFT), str(m), salt or secrets.token_hex(8), unit,
                        json.dumps(dict(variants)), json.dumps(w), metric_json(met),
                        guardrails_json(guards), json.dumps(steps) if steps else None, None, None,
                        None, who, now, who, now)

    def tx(con: Any) -> None:
        if repo.current(con, name) is not None:
            raise ExperimentError(f"experiment {name!r} exists", hint="pick another name or `nbops ab list`")
        repo.append(con, row, _resolve(opened, variants, name, 1))
        authorize_and_audit(opened.catalog, con, actor=who, action=Action.CHANGE_EXPERIMENT,
                            event="ab.create", target=f"experiment:{name}",
                            details={"variants": dict(variants), "weights": w, "mode": str(m)})

    try:
        opened.catalog.transaction(tx)
    except BaseException:
        if owns:
            opened.close()
        raise
    return Experiment(opened, row, actor=who, owns_ws=owns)


def get(name: str, *, ws: Workspace | None = None, actor: str | None = None) -> Experiment:
    opened, owns = _open(ws)
    row = ExperimentRepository(opened.catalog).current(None, name)
    if row is None:
        if owns:
            opened.close()
        raise NotFound(f"no experiment {name!r}", hint="list them with `nbops ab list`")
    return Experiment(opened, row, actor=actor, owns_ws=owns)


def experiments(status: str | None = None, *, ws: Workspace | None = None) -> pd.DataFrame:
    opened, owns = _open(ws)
    try:
        return ExperimentRepository(opened.catalog).frame(status)
    finally:
        if owns:
            opened.close()
