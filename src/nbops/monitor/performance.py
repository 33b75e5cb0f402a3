"""Model performance on predictions joined with their outcomes: pure, equal to scikit-learn.

Classification: accuracy, precision, recall, F1 (binary: the positive label is
the larger of the two; more classes: macro averages), and, when positive-class
scores are logged, ROC AUC, log loss and the expected calibration error (ECE):
10 equal-width bins of the score on [0, 1]; ECE = Σ_b (n_b / n) · |mean(y_b) - mean(score_b)|
over non-empty bins (the weighted gap of ``sklearn.calibration.calibration_curve``
with ``strategy='uniform'``). Regression: MAE, RMSE, R², MAPE.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ECE_BINS = 10


def expected_calibration_error(y_true: Any, scores: Any, bins: int = ECE_BINS) -> float:
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(scores, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.searchsorted(edges[1:-1], p, side="right")  # as calibration_curve bins them
    counts = np.bincount(idx, minlength=bins)
    sum_y = np.bincount(idx, weights=y, minlength=bins)
    sum_p = np.bincount(idx, weights=p, minlength=bins)
    nz = counts > 0
    gaps = np.abs(sum_y[nz] / counts[nz] - sum_p[nz] / counts[nz])
    return float(np.sum(counts[nz] / y.size * gaps))


def is_classification(y_true: Any, y_pred: Any) -> bool:
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yt.dtype.kind in "OUSbT" or yp.dtype.kind in "OUSbT":
        return True
    both = np.concatenate([yt.ravel(), yp.ravel()]).astype(np.float64)
    return bool(np.all(np.mod(both, 1) == 0) and np.unique(both).size <= 20)


def classification_metrics(y_true: Any, y_pred: Any, scores: Any = None) -> dict[str, float]:
    from sklearn import metrics as m

    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    labels = np.unique(np.concatenate([yt, yp]))
    binary = labels.size <= 2
    kw: dict[str, Any] = ({"average": "binary", "pos_label": labels[-1]} if binary and labels.size == 2
                          else {"average": "macro"})
    out = {"accuracy": float(m.accuracy_score(yt, yp)),
           "precision": float(m.precision_score(yt, yp, zero_division=0, **kw)),
           "recall": float(m.recall_score(yt, yp, zero_division=0, **kw)),
           "f1": float(m.f1_score(yt, yp, zero_division=0, **kw))}
    if scores is not None and binary and np.unique(yt).size == 2:
        s = np.asarray(scores, dtype=np.float64)
        positive = (yt == labels[-1]).astype(int)
        out["roc_auc"] = float(m.roc_auc_score(positive, s))
        out["log_loss"] = float(m.log_loss(positive, s, labels=[0, 1]))
        out["calibration_error"] = expected_calibration_error(positive, s)
    return out


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    from sklearn import metrics as m

    yt, yp = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    return {"mae": float(m.mean_absolute_error(yt, yp)),
            "rmse": float(np.sqrt(m.mean_squared_error(yt, yp))),
            "r2": float(m.r2_score(yt, yp)) if yt.size > 1 else float("nan"),
            "mape": float(m.mean_absolute_percentage_error(yt, yp))}


def performance(y_true: Any, y_pred: Any, scores: Any = None,
                task: str | None = None) -> dict[str, float]:
    """The metrics of ``task`` ('classification' or 'regression'; guessed when None)."""
    if len(y_true) == 0:
        return {}
    task = task or ("classification" if is_classification(y_true, y_pred) else "regression")
    if task == "classification":
        return classification_metrics(y_true, y_pred, scores)
    return regression_metrics(y_true, y_pred)
