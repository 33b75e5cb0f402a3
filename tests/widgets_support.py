"""A small real workspace for the widget tests: tracked runs, a registered model, a gate,
an approval and an alias move, an A/B experiment, all made through the public API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import nbops
from nbops.governance.service import Governance
from nbops.registry import Registry
from nbops.workspace import Workspace

CS = (0.1, 1.0, 10.0, 3.0)
ACCS = (0.71, 0.83, 0.79, 0.9)


@contextmanager
def opened(path: Path, user: str = "alice") -> Iterator[Workspace]:
    import pytest

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(path)
        mp.delenv("NBOPS_HOME", raising=False)
        mp.setenv("NBOPS_USER", user)
        ws = Workspace.open(path)
        try:
            yield ws
        finally:
            ws.close()


def fill(ws: Workspace) -> list[str]:
    """Four training runs (C, solver; acc; loss over 3 steps) reading one dataset; returns run ids."""
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"x1": rng.rand(40), "x2": rng.rand(40)})
    y = (frame["x1"] > 0.5).astype(int)
    ids = []
    for i, (c, acc) in enumerate(zip(CS, ACCS, strict=True)):
        data = frame if i < 3 else frame.assign(x2=frame["x2"] * 10)  # the last run's data changed
        with ws.run(name=f"train{i}") as run:
            run.log_dataset(data, "features", role="input")
            run.log_params({"C": c, "solver": "lbfgs" if i % 2 else "saga"})
            for step in range(3):
                run.log_metric("loss", round(1.0 / (step + 1 + c), 4), step=step)
            run.log_metric("acc", acc)
            run.log_model(LogisticRegression(C=c).fit(data, y), "clf")
        ids.append(run.run_id)
    return ids


def govern(ws: Workspace, ids: list[str]) -> None:
    """churn v1, v2 registered; staging moves v1 → v2; a gate, a request and an approval on v2."""
    reg, admin = Registry(ws, "alice"), Governance(ws, "alice")
    admin.grant("carol", "reviewer")
    reg.register(f"{ids[1]}/clf", "churn")
    reg.register(f"{ids[3]}/clf", "churn")
    reg.promote("churn", 1, "staging", "first")
    admin.record_validation("churn", 2, "data_checks", True, {"rows": 40})
    admin.record_validation("churn", 1, "fairness", False)
    admin.set_policy("churn", "production", {"required_approvals": 1})
    rid = admin.request_promotion("churn", 2, "production", "better acc")
    Governance(ws, "carol").approve(rid, "ok")
    reg.promote("churn", 2, "staging", "better")


def fill_experiment(ws: Workspace, name: str = "retention", n: int = 3000) -> nbops.ab.Experiment:
    """m v1 (production) against m v2 (challenger) on n users; the challenger converts 20% vs 10%."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"])
    y = (X.a > 0).astype(int)
    for version, (c, alias) in enumerate(((1.0, "production"), (0.1, "challenger")), start=1):
        nbops.registry.register(LogisticRegression(C=c).fit(X, y), "m", ws=ws)
        nbops.registry.promote("m", version, alias, ws=ws)
    exp = nbops.ab.create(name, variants={"control": "m@production", "treatment": "m@challenger"},
                          metric={"name": "converted", "kind": "binary"}, salt="fixed", ws=ws)
    exp.start()
    ids = np.array([f"u{i}" for i in range(n)])
    for batch in np.array_split(np.arange(n), 6):
        served = exp.predict(ids[batch], pd.DataFrame(rng.normal(size=(len(batch), 2)), columns=["a", "b"]))
        hit = rng.random(len(batch)) < np.where(served["variant"] == "treatment", 0.2, 0.1)
        exp.log_outcomes(served.loc[hit, "unit_id"], np.ones(int(hit.sum())))
    return exp
