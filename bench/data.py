"""Inputs shared by both sides of a benchmark, built identically from a seed in each process."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def frame(seed: int, rows: int, cols: int = 20) -> pd.DataFrame:
    """A numeric table like a feature matrix: float64 columns ``f0``…, built column by column."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({f"f{i}": rng.standard_normal(rows) for i in range(cols)})


def string_frame(seed: int, rows: int, cols: int = 4) -> pd.DataFrame:
    """A table of short string columns (pandas' default string dtype)."""
    rng = np.random.default_rng(seed)
    words = np.array([f"value-{i:05d}" for i in range(5000)], dtype=object)
    return pd.DataFrame({f"s{i}": pd.array(words[rng.integers(0, len(words), rows)], dtype="str")
                         for i in range(cols)})


def forest(seed: int, df: pd.DataFrame, *, trees: int, depth: int, rows: int = 10_000) -> Any:
    """A RandomForestClassifier fitted on the first ``rows`` rows of ``df``."""
    from sklearn.ensemble import RandomForestClassifier

    x = df.iloc[:rows].to_numpy()
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    return RandomForestClassifier(n_estimators=trees, max_depth=depth, random_state=seed,
                                  n_jobs=1).fit(x, y)


PARAMS = {"n_estimators": 100, "max_depth": 8, "criterion": "gini", "learning_rate": 0.1,
          "features": "all"}


def params(i: int) -> dict[str, Any]:
    """Five parameters, varied a little by ``i``."""
    return {**PARAMS, "n_estimators": 50 + i % 100, "max_depth": 4 + i % 8}


def metrics(i: int) -> dict[str, float]:
    """Three metrics, varied by ``i``."""
    rng = np.random.default_rng(abs(i))
    return {"accuracy": float(rng.uniform(0.6, 0.99)), "f1": float(rng.uniform(0.5, 0.95)),
            "loss": float(rng.uniform(0.05, 0.8))}
