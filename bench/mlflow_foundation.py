"""The MLflow side of bench_foundation; runs inside bench/.venv-mlflow through anchor_worker.

Every timed function measures itself and returns seconds (plus facts about the work).
Inputs are prepared beforehand with the same seeds as the nbops side.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import data
from common import dir_bytes, measure, timed

_state: dict[str, Any] = {"frames": {}, "models": {}}


def _mlflow(uri: str) -> Any:
    import mlflow

    mlflow.set_tracking_uri(uri)
    return mlflow


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {d: version(d) for d in ("mlflow", "pandas", "pyarrow", "scikit-learn", "sqlalchemy")}


# -- figure 1: recording a run ------------------------------------------------
def prepare_record(uri: str, artifacts: str, seeds: list[int], rows: int, cols: int, trees: int,
                   depth: int) -> dict[str, Any]:
    """Create the experiment (schema migrations happen here) and the inputs for ``seeds``."""
    import sklearn
    import skops.io as sio

    mlflow = _mlflow(uri)
    if mlflow.get_experiment_by_name("bench-record") is None:
        mlflow.create_experiment("bench-record", artifact_location=artifacts)
    mlflow.set_experiment("bench-record")
    for seed in seeds:
        df = data.frame(seed, rows, cols)
        _state["frames"][seed] = df
        _state["models"][seed] = data.forest(seed, df, trees=trees, depth=depth)
    model = _state["models"][seeds[0]]
    _state["trusted"] = sio.get_untrusted_types(data=sio.dumps(model))
    _state["pins"] = [f"scikit-learn=={sklearn.__version__}", f"skops=={_version('skops')}"]
    return {"trusted_types": len(_state["trusted"])}


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def record(uri: str, seed: int, i: int, pinned: bool) -> float:
    """start_run, log_params, log_metrics, log_input(from_pandas(df)), sklearn.log_model."""
    import mlflow.sklearn

    mlflow = _mlflow(uri)
    mlflow.set_experiment("bench-record")
    df, model = _state["frames"][seed], _state["models"][seed]
    extra: dict[str, Any] = {"pip_requirements": _state["pins"]} if pinned else {}

    def body() -> None:
        with mlflow.start_run(run_name=f"record-{i}"):
            mlflow.log_params(data.params(i))
            mlflow.log_metrics(data.metrics(i))
            mlflow.log_input(mlflow.data.from_pandas(df, name="train"), context="training")
            mlflow.sklearn.log_model(model, name="model", skops_trusted_types=_state["trusted"], **extra)

    return timed(body)


def drop_inputs() -> None:
    _state["frames"].clear()
    _state["models"].clear()


# -- figure 2: listing runs -----------------------------------------------------
def count_runs(uri: str) -> int:
    mlflow = _mlflow(uri)
    exp = mlflow.get_experiment_by_name("bench-list")
    if exp is None:
        return 0
    return len(mlflow.search_runs([exp.experiment_id], max_results=100_000, output_format="list"))


def create_runs(uri: str, artifacts: str, start: int, stop: int) -> float:
    """Runs ``start``..``stop`` with 5 params and 3 metrics each (setup, not timed as a figure)."""
    from mlflow.entities import Metric, Param

    mlflow = _mlflow(uri)
    exp = mlflow.get_experiment_by_name("bench-list")
    exp_id = exp.experiment_id if exp else mlflow.create_experiment("bench-list", artifact_location=artifacts)
    client = mlflow.MlflowClient()
    t0 = time.perf_counter()
    for i in range(start, stop):
        run = client.create_run(exp_id, run_name=f"run-{i}")
        now = int(time.time() * 1000)
        client.log_batch(run.info.run_id,
                         params=[Param(k, str(v)) for k, v in data.params(i).items()],
                         metrics=[Metric(k, v, now, 0) for k, v in data.metrics(i).items()])
        client.set_terminated(run.info.run_id)
    return time.perf_counter() - t0


def search(uri: str, n: int) -> dict[str, Any]:
    """mlflow.search_runs(max_results=n) as a DataFrame."""
    mlflow = _mlflow(uri)
    exp_id = mlflow.get_experiment_by_name("bench-list").experiment_id
    seconds, df = measure(lambda: mlflow.search_runs([exp_id], max_results=n))
    return {"seconds": seconds, "rows": len(df), "cols": df.shape[1]}


# -- figure 3: re-logging an unchanged large dataset ---------------------------
def prepare_large(uri: str, artifacts: str, rows: int, cols: int) -> dict[str, Any]:
    mlflow = _mlflow(uri)
    if mlflow.get_experiment_by_name("bench-large") is None:
        mlflow.create_experiment("bench-large", artifact_location=artifacts)
    mlflow.set_experiment("bench-large")
    _state["large"] = data.frame(7, rows, cols)
    return {"bytes": int(_state["large"].memory_usage(index=True).sum())}


def relog_large(uri: str, artifacts: str) -> dict[str, Any]:
    """Log the unchanged frame's bytes again: to_parquet + log_artifact (MLflow keeps no content index)."""
    mlflow = _mlflow(uri)
    mlflow.set_experiment("bench-large")
    before = dir_bytes(artifacts)

    def body() -> None:
        with mlflow.start_run(run_name="relog"), tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "large.parquet")
            _state["large"].to_parquet(path, compression="zstd")
            mlflow.log_artifact(path)

    seconds = timed(body)
    return {"seconds": seconds, "written": dir_bytes(artifacts) - before}


def drop_large() -> None:
    _state.pop("large", None)
