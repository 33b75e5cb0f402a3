"""Child processes for the multi-process tests: ``python workers.py KIND WORKER N``.

Each worker opens the workspace named by NBOPS_HOME, records ``N`` runs (N = 0: until
killed) and prints each run's id on its own line once the run is committed.
Kinds: ``small`` (a param, a metric and a small file per run), ``data`` (a fresh
DataFrame and a file per run, to be killed mid-way) and ``team`` (a dataset and a
fitted model per run).
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import nbops

if TYPE_CHECKING:
    import pandas as pd

    from nbops.workspace import Workspace


def blob_content(worker: int, i: int) -> bytes:
    return f"worker {worker} run {i}\n".encode()


def record_small(ws: Workspace, worker: int, i: int, scratch: Path) -> str:
    f = scratch / f"blob-{i}.txt"
    f.write_bytes(blob_content(worker, i))
    with ws.run(name=f"w{worker}-{i}") as run:
        run.log_param("worker", worker)
        run.log_param("i", i)
        run.log_metric("score", worker * 1000 + i)
        run.log_artifact(f, name="blob")
    return run.run_id


def record_data(ws: Workspace, worker: int, i: int, scratch: Path) -> str:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(worker * 100_000 + i)
    df = pd.DataFrame({"x": rng.normal(size=20_000), "k": rng.integers(0, 50, 20_000)})
    f = scratch / "chunk.bin"
    f.write_bytes(rng.bytes(200_000))
    with ws.run(name=f"w{worker}-{i}") as run:
        run.log_param("i", i)
        run.log_metric("mean", float(df["x"].mean()))
        run.log_dataset(df, "sample")
        run.log_artifact(f, name="chunk")
    return run.run_id


def team_frame(worker: int, i: int) -> pd.DataFrame:
    """The dataset a ``team`` worker records as its ``i``-th run."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(worker * 100 + i)
    return pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300),
                         "city": rng.choice(["Oslo", "Lima"], 300)})


def record_team(ws: Workspace, worker: int, i: int, scratch: Path) -> str:
    from sklearn.linear_model import LogisticRegression

    df = team_frame(worker, i)
    y = (df["a"] + df["b"] > 0).astype(int)
    model = LogisticRegression(C=0.5 + i).fit(df[["a", "b"]], y)
    with ws.run(name=f"w{worker}-{i}") as run:
        run.log_params({"worker": worker, "i": i, "C": 0.5 + i})
        for step in range(3):
            run.log_metric("loss", 1.0 / (step + 1 + i))
        run.log_metric("acc", float(model.score(df[["a", "b"]], y)))
        run.log_dataset(df, f"data_w{worker}_{i}", role="input")
        run.log_model(model, f"model_w{worker}_{i}")
    return run.run_id


KINDS = {"small": record_small, "data": record_data, "team": record_team}


def main(kind: str, worker: int, n: int) -> None:
    record = KINDS[kind]
    ws = nbops.open(create=False)
    with tempfile.TemporaryDirectory() as scratch:
        for i in itertools.count() if n == 0 else range(n):
            run_id = record(ws, worker, i, Path(scratch))
            print(run_id, flush=True)
    ws.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
