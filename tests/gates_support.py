"""Helpers of the validation-gate tests: a synthetic two-region dataset and registered models."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from nbops.registry import Registry
from nbops.workspace import Workspace

FEATURES = ["x1", "x2", "region"]


def dataset(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """The label follows x1 in region 0 and x2 in region 1: a model that never saw region 1
    regresses there only."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                      "region": rng.integers(0, 2, size=n)})
    y = pd.Series(np.where(X["region"] == 0, X["x1"] > 0, X["x2"] > 0).astype(int), name="label")
    return X, y


def register_tree(ws: Workspace, X: pd.DataFrame, y: pd.Series, *, depth: int = 4,
                  rows: Any = None, name: str = "m", log_data: bool = True) -> int:
    """Fit a tree on (X, y)[rows] in a tracked run (logging the training frame) and register it."""
    Xf, yf = (X, y) if rows is None else (X[rows], y[rows])
    with ws.run(name="train") as run:
        if log_data:
            run.log_dataset(pd.concat([Xf, yf], axis=1), "train", role="input")
        run.log_model(DecisionTreeClassifier(max_depth=depth, random_state=0).fit(Xf, yf), "tree")
    return Registry(ws).register(f"{run.run_id}/tree", name).version


def production_and_candidate(ws: Workspace) -> tuple[pd.DataFrame, pd.Series]:
    """m v1 (trained on both regions) in production; m v2 trained on region 0 only.
    Returns fresh held-out data to validate on."""
    X, y = dataset()
    register_tree(ws, X, y)
    Registry(ws).promote("m", 1, "production")
    register_tree(ws, X, y, rows=X["region"] == 0)
    return dataset(n=300, seed=1)
