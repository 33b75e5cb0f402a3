"""Batch prediction through an experiment: group rows by variant, predict, log once.

Written for both callers: a notebook passing a whole frame, and a model server passing
one request (a batch of one); either way the exposures become one Parquet batch.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
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


def predict_batch(exp: Experiment, unit_ids: Iterable[Any] | np.ndarray, X: Any) -> pd.DataFrame:
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
    batch = secrets.token_hex(6)
    req = [f"{batch}-{i}" for i in range(n)]
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
    exp._log_exposures(keys + log_keys, list(variants) + log_variants, list(prediction) + log_preds,
                       list(errors) + log_errors, shadow=[False] * n + log_shadow,
                       request_ids=req + log_req)
    return pd.DataFrame({"unit_id": keys, "variant": variants, "prediction": prediction,
                         "error": errors}, index=index)
