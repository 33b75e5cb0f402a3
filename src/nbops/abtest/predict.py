"""Batch prediction through an experiment: group rows by variant, predict, log once.

Written for both callers: a notebook passing a whole frame, and a model server passing
one request (a batch of one); either way the exposures become one Parquet batch.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nbops.abtest import assignment
from nbops.abtest.spec import ExperimentError
from nbops.catalog.abtest_records import Mode

if TYPE_CHECKING:
    from nbops.abtest.experiments import Experiment


def _rows(X: Any, mask: np.ndarray) -> Any:
    if isinstance(X, pd.DataFrame | pd.Series):
        return X.iloc[mask]
    return np.asarray(X)[mask]


def _predict(exp: Experiment, variant: str, X: Any, mask: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    if not mask.any():  # a request routed entirely elsewhere: nothing to ask this model
        return np.empty(0, dtype=object), None
    try:
        return np.asarray(exp.model(variant).predict(_rows(X, mask))), None
    except Exception as exc:  # a variant's failure is data for its guardrail, not a crash
        if variant == exp.control:
            raise
        return None, f"{type(exc).__name__}: {exc}"[:500]


@dataclass
class Exposures:
    """The exposure rows of routed batches, not yet written (a server gathers several)."""

    keys: list[str] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    predictions: list[Any] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)
    shadow: list[bool] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)

    def extend(self, other: Exposures) -> None:
        for name in ("keys", "variants", "predictions", "errors", "shadow", "request_ids"):
            getattr(self, name).extend(getattr(other, name))

    def __len__(self) -> int:
        return len(self.keys)


def predict_batch(exp: Experiment, unit_ids: Iterable[Any] | np.ndarray, X: Any) -> pd.DataFrame:
    frame, exposures = route_batch(exp, unit_ids, X)
    log_exposures(exp, exposures)
    return frame


def log_exposures(exp: Experiment, e: Exposures) -> None:
    """Write gathered exposures as one Parquet batch."""
    if len(e):
        exp._log_exposures(e.keys, e.variants, e.predictions, e.errors, shadow=e.shadow,
                           request_ids=e.request_ids)


def route_batch(exp: Experiment, unit_ids: Iterable[Any] | np.ndarray, X: Any,
                request_ids: list[str] | None = None) -> tuple[pd.DataFrame, Exposures]:
    """Assign and predict without writing: the answer per row and the exposures to log.

    ``request_ids`` (one per row) are recorded with the exposures; by default one is made
    per row. Shadow rows of other variants carry their row's request id.
    """
    keys = assignment.unit_keys(unit_ids)
    n = len(keys)
    if len(X) != n:
        raise ExperimentError(f"{n} unit ids but {len(X)} rows of features")
    variants = exp._assigner().assign(keys, exp.current_weights())
    index = X.index if isinstance(X, pd.DataFrame | pd.Series) else pd.RangeIndex(n)
    names = list(exp.variants)
    everyone = np.ones(n, bool)
    control_pred, _ = _predict(exp, exp.control, X, everyone if exp.mode == Mode.SHADOW
                               else variants == exp.control)
    prediction = np.empty(n, dtype=object)
    errors = np.full(n, None, dtype=object)
    log_keys, log_variants, log_preds, log_errors, log_shadow, log_req = [], [], [], [], [], []
    if request_ids is not None and len(request_ids) != n:
        raise ExperimentError(f"{n} rows but {len(request_ids)} request ids")
    batch = secrets.token_hex(6)
    req = list(request_ids) if request_ids is not None else [f"{batch}-{i}" for i in range(n)]
    if exp.mode == Mode.SHADOW:
        prediction[:] = control_pred
        for v in names[1:]:
            pred, err = _predict(exp, v, X, everyone)
            log_keys += keys
            log_variants += [v] * n
            log_preds += list(pred) if pred is not None else [None] * n
            log_errors += [err] * n
            log_shadow += [True] * n
            log_req += req
    else:
        prediction[variants == exp.control] = control_pred
        for v in names[1:]:
            mask = variants == v
            if not mask.any():
                continue
            pred, err = _predict(exp, v, X, mask)
            if pred is None:
                # Answer with control, and count the failure against the variant.
                fallback, _ = _predict(exp, exp.control, X, mask)
                prediction[mask], errors[mask] = fallback, err
            else:
                prediction[mask] = pred
    exposures = Exposures(keys + log_keys, list(variants) + log_variants, list(prediction) + log_preds,
                          list(errors) + log_errors, [False] * n + log_shadow, req + log_req)
    frame = pd.DataFrame({"unit_id": keys, "variant": variants, "prediction": prediction,
                          "error": errors}, index=index)
    return frame, exposures
