"""A/B testing benchmarks: vectorized assignment throughput, and the report over 1M exposures.

Run directly (``python bench/bench_abtest.py [--quick] [--json]``) to print a table;
``run(quick)`` returns the rows for a combined report. Figures are medians with min-max.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

SECTION = "abtest"
_SRC = Path(__file__).resolve().parents[1] / "src"


def _stats(xs: list[float]) -> str:
    return f"median of {len(xs)}, range {min(xs):,.0f}-{max(xs):,.0f}"


def bench_assignment(n: int, repeats: int) -> list[dict[str, object]]:
    import numpy as np

    from nbops.abtest import assignment

    variants = ["control", "treatment"]
    weights = {"control": 0.5, "treatment": 0.5}
    cases = {"int64 ids": np.arange(10**9, 10**9 + n),
             "string ids ('user-123456')": [f"user-{i}" for i in range(n)]}
    rows: list[dict[str, object]] = []
    for label, ids in cases.items():
        rates = []
        for _ in range(repeats):
            t = time.perf_counter()
            assignment.assign(ids, variants, weights, "bench-salt")
            rates.append(n / (time.perf_counter() - t))
        rows.append({"case": f"assign {n:,} {label}", "value": statistics.median(rates) / 1e6,
                     "unit": "M units/s", "detail": _stats(rates)})
    return rows


def _experiment(tmp: Path):  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import nbops

    ws = nbops.open(tmp)
    X = pd.DataFrame({"a": np.random.default_rng(0).normal(size=200), "b": np.zeros(200)})
    for c in (1.0, 0.1):
        nbops.registry.register(LogisticRegression(C=c).fit(X, X.a > 0), "m", ws=ws)
    nbops.registry.promote("m", 1, "production", ws=ws)
    exp = nbops.ab.create("bench", {"control": "m@production", "treatment": "m@v2"}, ws=ws).start()
    return ws, exp


def bench_report(tmp: Path, n: int, repeats: int) -> list[dict[str, object]]:
    import numpy as np

    ws, exp = _experiment(tmp)
    rng = np.random.default_rng(1)
    ids = np.arange(n)
    t = time.perf_counter()
    for batch in np.array_split(ids, 10):
        exp.assign(batch)  # records the exposures: one Parquet batch each
    log_s = time.perf_counter() - t
    converted = ids[rng.random(n) < 0.1]
    exp.log_outcomes(converted, np.ones(len(converted)))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        rep = exp.report()
        times.append(time.perf_counter() - t)
    X = np.c_[rng.normal(size=100_000), np.zeros(100_000)]
    t = time.perf_counter()
    exp.predict(np.arange(100_000), X)
    pred_s = time.perf_counter() - t
    ws.close()
    return [
        {"case": f"assign + log {n:,} exposures (10 Parquet batches)", "value": n / log_s / 1e6,
         "unit": "M units/s", "detail": f"{log_s:.2f} s"},
        {"case": f"report over {n:,} exposures, {len(converted):,} outcomes",
         "value": statistics.median(times), "unit": "s",
         "detail": f"median of {repeats}, {min(times):.2f}-{max(times):.2f} s; decision: {rep.decision}"},
        {"case": "predict 100,000 rows through the experiment (2 sklearn models, logged)",
         "value": 100_000 / pred_s / 1e6, "unit": "M rows/s", "detail": f"{pred_s:.2f} s"},
    ]


def run(quick: bool = False) -> list[dict[str, object]]:
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(_SRC), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
    rows = bench_assignment(1_000_000, 3 if quick else 7)
    with tempfile.TemporaryDirectory() as d:
        os.environ["NBOPS_HOME"] = str(Path(d) / ".nbops")
        try:
            rows += bench_report(Path(d), 200_000 if quick else 1_000_000, 2 if quick else 5)
        finally:
            os.environ.pop("NBOPS_HOME")
    return rows


def main() -> None:
    from common import print_rows

    print_rows(run(quick="--quick" in sys.argv), sys.argv)


if __name__ == "__main__":
    sys.path.insert(0, str(_SRC))
    main()
