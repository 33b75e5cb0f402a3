"""Helpers shared by the registry, governance and audit tests (real workspaces, real catalog)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from nbops.governance.service import Governance
from nbops.registry import Registry
from nbops.workspace import Workspace


def open_workspace(tmp_path: Path, monkeypatch: Any, user: str = "alice") -> Workspace:
    """A fresh workspace in tmp_path whose creator (first admin) is ``user``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NBOPS_HOME", raising=False)
    monkeypatch.setenv("NBOPS_USER", user)
    return Workspace.open(tmp_path)


def train(ws: Workspace, acc: float, c: float = 1.0, name: str = "clf") -> str:
    """A tracked training run with a fitted model and an ``acc`` metric; returns its run id."""
    rng = np.random.RandomState(int(c * 100))
    x = rng.rand(40, 3)
    y = (x[:, 0] > 0.5).astype(int)
    with ws.run(name="train") as run:
        run.log_dataset(x, "X_train", role="input")
        run.log_params({"C": c})
        run.log_model(LogisticRegression(C=c).fit(x, y), name)
        run.log_metric("acc", acc)
    return run.run_id


def team(ws: Workspace) -> None:
    """alice (admin, creator) grants bob contributor, carol and erin reviewer, dave deployer."""
    gov = Governance(ws, "alice")
    for user, role in [("bob", "contributor"), ("carol", "reviewer"), ("erin", "reviewer"),
                       ("dave", "deployer")]:
        gov.grant(user, role)


def as_(ws: Workspace, user: str) -> tuple[Registry, Governance]:
    return Registry(ws, user), Governance(ws, user)


def inlined_table(catalog_file: Path, table: str) -> str:
    """The SQLite table where DuckLake keeps ``table``'s inlined rows."""
    con = sqlite3.connect(catalog_file)
    try:
        (table_id,) = con.execute("SELECT table_id FROM ducklake_table WHERE table_name = ? "
                                  "AND end_snapshot IS NULL", [table]).fetchone()
        (name,) = con.execute("SELECT table_name FROM ducklake_inlined_data_tables WHERE table_id = ? "
                              "ORDER BY schema_version DESC LIMIT 1", [table_id]).fetchone()
        return str(name)
    finally:
        con.close()
