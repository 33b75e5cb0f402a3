"""Named model metrics the gates compute on (X, y): which prediction each needs, and its direction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from nbops.errors import NbopsError


class Needs(StrEnum):
    """What a metric reads from the model."""

    LABEL = "label"  # model.predict(X)
    SCORE = "score"  # model.predict_proba(X): the positive class's column (binary) or all of them


@dataclass(frozen=True)
class MetricSpec:
    name: str
    fn: Callable[[Any, Any], float]
    needs: Needs
    higher_is_better: bool


def _average(y: Any) -> str:
    return "binary" if np.unique(np.asarray(y)).size <= 2 else "macro"


def _f1(y: Any, p: Any) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, p, average=_average(y)))


def _precision(y: Any, p: Any) -> float:
    from sklearn.metrics import precision_score

    return float(precision_score(y, p, average=_average(y), zero_division=0))


def _recall(y: Any, p: Any) -> float:
    from sklearn.metrics import recall_score

    return float(recall_score(y, p, average=_average(y), zero_division=0))


def _roc_auc(y: Any, s: Any) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s, multi_class="ovr") if np.ndim(s) == 2 else roc_auc_score(y, s))


def _log_loss(y: Any, s: Any) -> float:
    from sklearn.metrics import log_loss

    if np.ndim(s) == 1:
        s = np.column_stack([1 - np.asarray(s), s])
    return float(log_loss(y, s))


def _sk(name: str) -> Callable[[Any, Any], float]:
    def fn(y: Any, p: Any) -> float:
        import sklearn.metrics as m

        return float(getattr(m, name)(y, p))

    return fn


def _rmse(y: Any, p: Any) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(y, float) - np.asarray(p, float)))))


METRICS: dict[str, MetricSpec] = {s.name: s for s in [
    MetricSpec("accuracy", _sk("accuracy_score"), Needs.LABEL, True),
    MetricSpec("balanced_accuracy", _sk("balanced_accuracy_score"), Needs.LABEL, True),
    MetricSpec("f1", _f1, Needs.LABEL, True),
    MetricSpec("precision", _precision, Needs.LABEL, True),
    MetricSpec("recall", _recall, Needs.LABEL, True),
    MetricSpec("roc_auc", _roc_auc, Needs.SCORE, True),
    MetricSpec("log_loss", _log_loss, Needs.SCORE, False),
    MetricSpec("r2", _sk("r2_score"), Needs.LABEL, True),
    MetricSpec("mae", _sk("mean_absolute_error"), Needs.LABEL, False),
    MetricSpec("mse", _sk("mean_squared_error"), Needs.LABEL, False),
    MetricSpec("rmse", _rmse, Needs.LABEL, False),
]}


def metric_spec(name: str, fn: Callable[[Any, Any], float] | None = None,
                higher_is_better: bool | None = None) -> MetricSpec:
    """The spec of a named metric, or of a custom ``fn(y_true, y_pred)`` (on predicted labels)."""
    if fn is not None:
        if not callable(fn):
            raise NbopsError(f"fn for metric {name!r} is not callable")
        return MetricSpec(name, fn, Needs.LABEL, True if higher_is_better is None else higher_is_better)
    spec = METRICS.get(name)
    if spec is None:
        raise NbopsError(f"unknown metric {name!r}",
                         hint=f"use one of {sorted(METRICS)} or pass fn=callable(y_true, y_pred)")
    if higher_is_better is not None and higher_is_better != spec.higher_is_better:
        raise NbopsError(f"{name} is {'higher' if spec.higher_is_better else 'lower'}-is-better; "
                         "higher_is_better cannot change that")
    return spec
