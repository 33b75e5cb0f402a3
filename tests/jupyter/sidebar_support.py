"""A workspace for the sidebar's tests: three runs of one notebook, a registered model, roles.

alice created the workspace and is admin; carol is reviewer, dave contributor, erin viewer,
bob has no role.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

NOTEBOOK = "train.ipynb"


def build_workspace(root: Path) -> dict[str, Any]:
    """Build it as alice (the workspace's creator, hence its first admin)."""
    import os

    before = os.environ.get("NBOPS_USER")
    os.environ["NBOPS_USER"] = "alice"
    try:
        return _build(root)
    finally:
        if before is None:
            os.environ.pop("NBOPS_USER", None)
        else:
            os.environ["NBOPS_USER"] = before


def _build(root: Path) -> dict[str, Any]:
    import nbformat
    from sklearn.linear_model import LogisticRegression

    import nbops
    from nbops import governance, registry

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell("%load_ext nbops"))
    nb.cells.append(nbformat.v4.new_code_cell("%%track -n live\nalpha = 0.5\nscore = alpha * 2"))
    nbformat.write(nb, root / NOTEBOOK)
    X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
    run_ids = []
    with nbops.open(root) as ws:
        for i, c in enumerate([0.1, 1.0, 10.0]):
            tags = {"hidden_state": "x was redefined by a later cell"} if i == 2 else None
            with ws.run(name=f"train-{i}", notebook=str((root / NOTEBOOK).resolve()),
                        source=f"C = {c}\nclf = LogisticRegression(C=C).fit(X, y)", tags=tags) as run:
                run.log_param("C", c)
                run.log_metric("acc", 0.8 + 0.05 * i)
                run.log_model(LogisticRegression(C=c).fit(X, y), "clf")
            run_ids.append(run.run_id)
        registry.register(f"{run_ids[1]}/clf", "clf", ws=ws, actor="alice")
        registry.register(f"{run_ids[2]}/clf", "clf", ws=ws, actor="alice")
        governance.grant("alice", "admin", ws=ws, actor="alice")
        governance.grant("carol", "reviewer", ws=ws, actor="alice")
        governance.grant("dave", "contributor", ws=ws, actor="alice")
        governance.grant("erin", "viewer", ws=ws, actor="alice")
    return {"runs": run_ids, "notebook": NOTEBOOK}


def add_many_runs(root: Path, n: int, notebook: str = "bulk.ipynb") -> None:
    """``n`` finished runs of another notebook, each with a parameter and a metric, in one commit
    (rows written as Run.finish writes them, without fitting anything)."""
    from datetime import UTC, datetime, timedelta

    import nbops
    from nbops.catalog.records import MetricRow, ParamRow, RunRow
    from nbops.tracking.run import new_run_id

    t0 = datetime.now(UTC) - timedelta(days=30)
    path = str((root / notebook).resolve())
    runs, params, metrics = [], [], []
    for i in range(n):
        rid, ts = new_run_id(), t0 + timedelta(seconds=i)
        runs.append(RunRow(rid, f"bulk-{i}", "cell", "finished", "alice", ts, ts, 5.0, None, None,
                           path, None, i, None, None, None))
        params.append(ParamRow(rid, "i", str(i), "int"))
        metrics.append(MetricRow(rid, "score", i / n, 0, ts))
    with nbops.open(root, create=False) as ws:
        def write(con: Any) -> None:
            ws.catalog.insert(con, "runs", runs)
            ws.catalog.insert(con, "params", params)
            ws.catalog.insert(con, "metrics", metrics)

        ws.catalog.transaction(write)


def add_alerts_and_experiment(root: Path) -> dict[str, Any]:
    """Two alert rules on clf@v1 traffic, one of which fires (volume > 5) and one that does not,
    and a running A/B experiment clf@v1 vs clf@v2 whose treatment wins on 600 units; as alice."""
    import os

    before = os.environ.get("NBOPS_USER")
    os.environ["NBOPS_USER"] = "alice"
    try:
        return _alerts_and_experiment(root)
    finally:
        if before is None:
            os.environ.pop("NBOPS_USER", None)
        else:
            os.environ["NBOPS_USER"] = before


def _alerts_and_experiment(root: Path) -> dict[str, Any]:
    import nbops
    import nbops.monitor as mon

    with nbops.open(root, create=False) as ws:
        mon.add_rule("clf-volume", model="clf@v1", metric="volume", threshold=5, min_samples=1,
                     severity="critical", ws=ws, actor="alice")
        mon.add_rule("clf-errors", model="clf@v1", metric="error_rate", threshold=0.5, min_samples=1,
                     ws=ws, actor="alice")
        mon.log_predictions("clf@v1", features=[[0.5], [1.5]] * 4, predictions=[0, 1] * 4,
                            latency_ms=[3.0] * 8, ws=ws)
        mon.flush(ws)
        fired = mon.check(ws=ws).fired
        exp = nbops.ab.create("clf-ab", {"control": "clf@v1", "treatment": "clf@v2"},
                              metric={"name": "correct", "kind": "binary"}, salt="fixed", ws=ws,
                              actor="alice")
        exp.start()
        units = [f"u{i}" for i in range(600)]
        variants = exp.assign(units)  # treatment converts 60% of units, control 30%
        exp.log_outcomes(units, [i % 10 < (6 if v == "treatment" else 3) for i, v in enumerate(variants)])
    return {"fired": fired, "experiment": "clf-ab"}


def add_pipeline_run(root: Path, notebook: str = "square.ipynb") -> str:
    """One pipeline run of a one-cell notebook (prints ``squared 4``); its id."""
    import nbformat

    import nbops
    from nbops.pipelines import run as run_pipeline

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell("n = 2\nprint('squared', n * n)"))
    nbformat.write(nb, root / notebook)
    with nbops.open(root, create=False) as ws:
        return run_pipeline(root / notebook, ws=ws, progress=False).pipeline_run_id
