"""Monitoring benchmarks: drift of 20 features (1M vs 1M) against Evidently, logging throughput,
a window report over 10M logged predictions.

Run directly (``python bench/bench_monitor.py [--quick]``) to print a table;
``run(quick)`` returns the rows for a combined report. Evidently 0.7 breaks on
pandas 3, so it runs in its own virtual environment (``bench/.venv-evidently``,
created here on first use with ``pandas<3``) through a worker process speaking
JSON lines; nbops and Evidently take turns on the same arrays (saved as .npy).
``--quick`` uses 100k rows for the drift comparison and 1M logged predictions.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SECTION = "monitoring"
_HERE = Path(__file__).resolve().parent
_SRC = _HERE.parent / "src"
_VENV = _HERE / ".venv-evidently"
_EVIDENTLY = "evidently==0.7.23"


def _stats(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f} ({min(xs):.3f}-{max(xs):.3f}), n={len(xs)}"


def _row(case: str, value: float, unit: str, detail: str) -> dict[str, object]:
    return {"section": SECTION, "case": case, "unit": unit, "value": value, "detail": detail}


# -- Evidently worker -----------------------------------------------------------
def _evidently_python() -> Path | None:
    py = _VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(_VENV)], check=False)
    ok = subprocess.run([str(py), "-c", "import evidently"], capture_output=True).returncode == 0
    if not ok:
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", "pandas<3", _EVIDENTLY],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"Evidently could not be installed: {r.stderr[-500:]}", file=sys.stderr)
            return None
    return py


class EvidentlyWorker:
    def __init__(self, python: Path) -> None:
        self.proc = subprocess.Popen([str(python), str(_HERE / "_evidently_worker.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        self.version = json.loads(self._read())["version"]

    def _read(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the Evidently worker exited")
        return line

    def drift(self, ref: Path, cur: Path) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"ref": str(ref), "cur": str(cur)}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self._read())

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


# -- drift ----------------------------------------------------------------------
def bench_drift(tmp: Path, n: int, repeats: int, evidently_repeats: int) -> list[dict[str, object]]:
    import numpy as np
    import pandas as pd

    from nbops.monitor.stats import drift_table

    rng = np.random.default_rng(7)
    ref = rng.normal(size=(n, 20))
    cur = rng.normal(size=(n, 20)) * 1.05 + np.linspace(0, 0.3, 20)  # drift grows with the index
    np.save(tmp / "ref.npy", ref)
    np.save(tmp / "cur.npy", cur)
    cols = [f"f{i}" for i in range(20)]
    ref_df, cur_df = pd.DataFrame(ref, columns=cols), pd.DataFrame(cur, columns=cols)
    ours: list[float] = []
    theirs: list[float] = []
    result: list[Any] = []
    ev_out: dict[str, Any] = {}
    py = _evidently_python()
    worker = EvidentlyWorker(py) if py else None
    for i in range(repeats):
        t = time.perf_counter()
        result = drift_table(ref_df, cur_df)
        ours.append(time.perf_counter() - t)
        if worker is not None and i < evidently_repeats:
            ev_out = worker.drift(tmp / "ref.npy", tmp / "cur.npy")
            theirs.append(ev_out["seconds"])
    rows = [_row(f"drift, 20 numeric features, {n:,} vs {n:,} rows: nbops", statistics.median(ours),
                 "s", _stats(ours) + f"; {sum(r.drifted for r in result)}/20 drifted; target < 2 s")]
    if worker is None:
        rows.append(_row("drift, same data: Evidently DataDriftPreset", float("nan"), "s",
                         "Evidently could not be installed here"))
        return rows
    worker.close()
    diff = max(abs(r.statistic - ev_out["values"][r.column]) for r in result)
    ratio = statistics.median(theirs) / statistics.median(ours)
    rows.append(_row(f"drift, same data: Evidently {worker.version} DataDriftPreset",
                     statistics.median(theirs), "s",
                     _stats(theirs) + f"; {ev_out['drifted']}/20 drifted; nbops x{ratio:.0f} faster;"
                     f" max |statistic difference| {diff:.1e} (both normed Wasserstein)"))
    return rows


# -- logging and reports --------------------------------------------------------
def bench_logging(ws: Any, total: int, batch: int) -> tuple[list[dict[str, object]], int]:
    import numpy as np
    import pandas as pd

    from nbops.monitor.files import LogFiles
    from nbops.monitor.logger import PredictionLogger

    lg = PredictionLogger(LogFiles.for_settings(ws.settings), flush_rows=1_000_000,
                          flush_interval_s=3600, compact_min_files=10**9)
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(batch, 5)), columns=[f"x{i}" for i in range(5)])
    preds = rng.integers(0, 2, batch)
    lat = rng.gamma(2.0, 10.0, batch)
    ids = [f"r{i}" for i in range(batch)]
    t = time.perf_counter()
    for _ in range(total // batch):
        lg.log_predictions("bench", X, preds, request_ids=ids, latency_ms=lat)
    lg.close()
    secs = time.perf_counter() - t
    s = lg.stats()
    assert s["rows_written"] == total and s["failures"] == 0, s
    rate = total / secs
    return [_row(f"log_predictions, {total:,} rows in batches of {batch:,} (5 features), incl. "
                 "Parquet writes", rate, "rows/s", f"{secs:.2f} s; target >= 500k rows/s")], total


def bench_report(ws: Any, n: int, repeats: int) -> list[dict[str, object]]:
    from nbops.monitor.reporting import Monitor

    mon = Monitor(ws)
    times: list[float] = []
    rep = None
    for _ in range(repeats):
        t = time.perf_counter()
        rep = mon.report("bench", window="1d", drift=False, store=False)
        times.append(time.perf_counter() - t)
    assert rep is not None and rep.summary["n"] == n, rep.summary
    return [_row(f"window report (volume, errors, latency p50/p95/p99) over {n:,} predictions",
                 statistics.median(times), "s", _stats(times) + "; target < 2 s")]


def run(quick: bool = False) -> list[dict[str, object]]:
    if str(_SRC) not in sys.path:
        sys.path.insert(0, str(_SRC))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows = bench_drift(tmp, 100_000 if quick else 1_000_000, 3 if quick else 5,
                           1 if quick else 2)
        os.environ["NBOPS_HOME"] = str(tmp / "ws" / ".nbops")
        import nbops

        (tmp / "ws").mkdir()
        ws = nbops.open(tmp / "ws")
        try:
            log_rows, n = bench_logging(ws, 1_000_000 if quick else 10_000_000, 20_000)
            rows += log_rows
            rows += bench_report(ws, n, 3 if quick else 5)
        finally:
            ws.close()
            os.environ.pop("NBOPS_HOME", None)
    return rows


def main() -> None:
    rows = run(quick="--quick" in sys.argv)
    width = max(len(str(r["case"])) for r in rows)
    print(f"{'case':<{width}}  {'median':>12}  detail")
    for r in rows:
        print(f"{r['case']:<{width}}  {float(r['value']):>10.3f} {r['unit']}  {r['detail']}")
    if "--json" in sys.argv:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    sys.path.insert(0, str(_SRC))
    main()
