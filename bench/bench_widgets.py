"""Dashboard build times: ``show.runs`` over 10,000 runs and ``show.monitor`` over 10M logged
predictions (target: under 1 s each), side by side with pandas doing the same aggregation.

    python bench/bench_widgets.py [--quick]

"Build" is the call that returns the widget: catalog/DuckDB queries, the plotly figures and
the FigureWidgets, without a kernel. The data are generated once and cached under
/tmp/nbops-bench-widgets (runs written as rows in one commit; predictions written as Arrow
batches straight into the logger's Parquet layout, one file per hour, 10% with outcomes).

The anchor for ``show.monitor`` is what one would write without it: pandas reads the same
Parquet logs (the columns needed), joins outcomes and groups per bucket. The anchor for
``show.runs`` is MLflow (bench/mlflow_widgets.py, in bench/.venv-mlflow through the anchor
worker): ``mlflow.search_runs`` into a DataFrame plus the plotly figures one would make from it,
over bench_foundation's cached store of 10,000 MLflow runs (built here when missing).

    python bench/bench_widgets.py [--quick] [--only runs|monitor]
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import FULL_REPEAT, QUICK_REPEAT, Result, Stat, alternate, compare, measure  # noqa: E402

SECTION = "widgets"
ANCHOR = "pandas"
INTRO = ("Dashboard build times without a kernel (queries, figures, widgets). `show.monitor` "
         "reads per-hour rollups of the Parquet logs (kept in the workspace's cache and brought up "
         "to date at each draw; see docs/widgets.md) and sends one row per bucket; the anchor "
         "reads the same logs with pandas (only the needed columns) and aggregates there. "
         "`show.runs` is compared with MLflow's `search_runs` and the same figures.")
ROOT = Path(os.environ.get("NBOPS_BENCH_WIDGETS", "/tmp/nbops-bench-widgets"))
START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 168  # a week of traffic


def _log(msg: str) -> None:
    print(f"bench[widgets]: {msg}", file=sys.stderr, flush=True)


def _open(path: Path) -> Any:
    from nbops.config import init_workspace
    from nbops.workspace import Workspace

    if not (path / ".nbops").exists():
        path.mkdir(parents=True, exist_ok=True)
        init_workspace(path)
    return Workspace.open(path, create=False)


# -- data --------------------------------------------------------------------------
def runs_workspace(n: int) -> Any:
    """A workspace with ``n`` finished runs (5 params, 3 metrics), written in one commit."""
    import data

    from nbops.catalog.records import MetricRow, ParamRow, RunRow
    from nbops.tracking.run import new_run_id

    ws = _open(ROOT / f"runs-{n}")
    if int(ws.sql("SELECT count(*) AS n FROM runs").at[0, "n"]) >= n:
        return ws
    _log(f"writing {n:,} runs (cached in {ROOT})")
    runs, params, metrics = [], [], []
    for i in range(n):
        rid, ts = new_run_id(), START + timedelta(seconds=i)
        runs.append(RunRow(rid, f"run-{i}", "cell", "finished", "bench", ts, ts, 5.0, None, None,
                           "train.ipynb", None, i, None, None, None))
        params += [ParamRow(rid, k, str(v), type(v).__name__) for k, v in data.params(i).items()]
        metrics += [MetricRow(rid, k, float(v), 0, ts) for k, v in data.metrics(i).items()]

    def write(con: Any) -> None:
        for table, rows in (("runs", runs), ("params", params), ("metrics", metrics)):
            ws.catalog.insert(con, table, rows)

    ws.catalog.transaction(write)
    return ws


def monitor_workspace(n: int) -> Any:
    """A workspace whose model 'bench' logged ``n`` predictions over a week (4 features; the
    last two days shifted) and outcomes for 10% of them; one Parquet file per hour."""
    ws = _open(ROOT / f"monitor-{n}")
    marker = ROOT / f"monitor-{n}" / "written"
    if not marker.exists():
        _log(f"writing {n:,} predictions (cached in {ROOT})")
        t0 = time.perf_counter()
        _write_predictions(ws, n)
        marker.write_text("ok")
        _log(f"written in {time.perf_counter() - t0:.0f} s")
    return ws


def _write_predictions(ws: Any, n: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from nbops.monitor.files import LogFiles

    files = LogFiles.for_settings(ws.settings)
    rng = np.random.default_rng(0)
    per, done = n // HOURS, 0
    for h in range(HOURS):
        k = per if h < HOURS - 1 else n - done
        t = START + timedelta(hours=h)
        base = np.datetime64(t.replace(tzinfo=None), "us").astype(np.int64)
        ts = np.sort(base + rng.integers(0, 3_600_000_000, k))
        ids = pc.binary_join_element_wise("r", pa.array(np.arange(done, done + k)).cast(pa.string()), "")
        table, pred = _prediction_table(rng, ids, ts, shift=0.0 if h < 120 else 1.0)
        date = t.strftime("%Y-%m-%d")
        files.write(files.partition("predictions", "bench", date, t.hour), table)
        m = k // 10
        y = pred[:m] ^ (rng.random(m) < (0.1 if h < 120 else 0.3))
        files.write(files.partition("outcomes", None, date, t.hour), pa.table({
            "request_id": ids.slice(0, m), "ts": pa.array(ts[:m] + 600_000_000, pa.timestamp("us", tz="UTC")),
            "y_true": y.astype(np.int64)}))
        done += k


def _prediction_table(rng: Any, ids: Any, ts: Any, shift: float = 0.0) -> tuple[Any, Any]:
    """The logger's prediction rows for ``ids`` at ``ts`` (4 features, x0 shifted by
    ``shift``), and the predictions."""
    import numpy as np
    import pyarrow as pa

    k = len(ids)
    x = rng.normal(size=(k, 4))
    x[:, 0] += shift
    pred = (x[:, 0] + rng.normal(size=k) > 0).astype(np.int64)
    return pa.table({
        "request_id": ids, "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "model": pa.array(np.full(k, "bench")), "model_version": pa.array(np.ones(k, np.int64)),
        "latency_ms": rng.gamma(2.0, 4.0, k), "error": pa.nulls(k, pa.string()),
        "prediction": pred, "score": rng.random(k), **{f"f__x{i}": x[:, i] for i in range(4)}}), pred


# -- figures -----------------------------------------------------------------------
def runs_figure(n: int, repeat: int) -> Result:
    """``show.runs()`` against MLflow's equivalent (bench/mlflow_widgets.py), alternated."""
    from anchor import mlflow_worker

    from nbops import show

    ws = runs_workspace(n)
    shown: dict[str, Any] = {}
    searches: list[float] = []

    def nbops(_: int) -> float:
        seconds, dash = measure(lambda: show.runs(ws=ws))
        shown["nbops"] = len(dash.table.options)
        dash.close()
        return seconds

    with mlflow_worker(ROOT / "mlflow-worker") as worker:
        uri = _mlflow_runs(worker, n)

        def mlflow(_: int) -> float:
            out = worker.call("mlflow_widgets.runs_dashboard", uri=uri, n=n)
            shown["mlflow"] = out["rows"]
            searches.append(float(out["search"]))
            return float(out["seconds"])

        stats = alternate({"mlflow": mlflow, "nbops": nbops}, repeat)
    ws.close()
    assert shown["nbops"] == shown["mlflow"] == n, shown
    nb = stats["nbops"]
    result = compare(f"`show.runs()` over {n:,} runs (5 params, 3 metrics each): table, metric chart, "
                     "step curves, parallel coordinates", stats["mlflow"], nb)
    result.anchor_name, result.target, result.passed = "MLflow", "< 1 s", nb.median < 1.0
    result.note = (
        "nbops: `show.runs()` returns the widget: `ws.runs()` from the catalog, a 10,000-row "
        "selectable runs table, the metric-over-runs chart (3 traces × 10,000 points), the step "
        "curves of the first 10 runs (one more query), the parallel-coordinates figure (5 params → "
        "accuracy), each a `FigureWidget`. MLflow 3.17.2 (sqlite store, its own venv, timed in its "
        "own process): `mlflow.search_runs(max_results=10000)` into a DataFrame, then the same two "
        "plotly figures a user would write from it (one trace per metric over the runs; parallel "
        "coordinates of the params, converted from MLflow's strings, → accuracy), each built into a "
        "`FigureWidget`; no table widget and no step curves on that side. Of MLflow's time, "
        f"`search_runs` alone: {Stat(searches[1:]).show()}.")
    return result


def _mlflow_runs(worker: Any, n: int) -> str:
    """The tracking URI of bench_foundation's cached MLflow store of ``n`` runs (the same
    ``data.params``/``data.metrics`` per run as here), created where missing."""
    from bench_foundation import _mlflow_dir
    from common import CACHE

    uri, artifacts = _mlflow_dir(CACHE / f"runs-{n}" / "mlflow")
    have = worker.call("mlflow_foundation.count_runs", uri=uri)
    if have < n:
        _log(f"creating MLflow runs {have}..{n} (cached in {CACHE})")
        seconds = worker.call("mlflow_foundation.create_runs", uri=uri, artifacts=artifacts, start=have, stop=n)
        _log(f"MLflow runs created in {seconds:.0f} s")
    return uri


def _pandas_monitor(root: Path, bucket: str) -> int:
    """The anchor: pandas over the same logs — volume, error rate, mean latency and accuracy per bucket."""
    import pandas as pd

    pred = pd.read_parquet(root / "predictions" / "model=bench",
                           columns=["request_id", "ts", "error", "latency_ms", "prediction"])
    out = pd.read_parquet(root / "outcomes", columns=["request_id", "ts", "y_true"])
    out = out.sort_values("ts").drop_duplicates("request_id", keep="last")
    pred["bucket"] = pred["ts"].dt.floor(bucket)
    traffic = pred.groupby("bucket").agg(n=("ts", "size"), n_errors=("error", "count"),
                                         latency_mean=("latency_ms", "mean"))
    joined = pred[pred["error"].isna()].merge(out[["request_id", "y_true"]], on="request_id")
    acc = (joined["prediction"] == joined["y_true"]).groupby(joined["bucket"]).mean()
    return int(traffic["n"].sum()) + len(acc) * 0


def monitor_figure(n: int, repeat: int) -> list[Result]:
    from nbops import show
    from nbops.monitor.files import LogFiles

    ws = monitor_workspace(n)
    root = Path(LogFiles.for_settings(ws.settings).root)
    cache = Path(ws.settings.home) / "cache" / "monitor" / "bench"
    until = START + timedelta(hours=HOURS)
    seen: dict[str, int] = {}

    def build() -> float:
        seconds, dash = measure(lambda: show.monitor("bench", window="7d", until=until, ws=ws))
        seen["nbops"] = int(dash.data["traffic"]["n"].sum())
        dash.close()
        return seconds

    def pandas(_: int) -> float:
        seconds, total = measure(lambda: _pandas_monitor(root, "3h"))
        seen["pandas"] = total
        return seconds

    def cold(_: int) -> float:
        shutil.rmtree(cache, ignore_errors=True)
        return build()

    def new_hour(_: int) -> float:
        added = _log_another_batch(ws, n)
        try:
            return build()
        finally:
            for path in added:
                Path(path).unlink()
            build()  # the rollups forget the batch again, untimed

    stats = alternate({"pandas": pandas, "nbops": lambda _: build()}, repeat)
    assert seen["nbops"] == seen["pandas"] == n, seen
    more = alternate({"cold": cold, "new batch": new_hour}, repeat)
    parts = _monitor_parts(ws, until, repeat)
    ws.close()
    nb = stats["nbops"]
    result = compare(f"`show.monitor(window='7d')` over {n:,} logged predictions ({n // 10:,} with "
                     "outcomes; 56 buckets of 3 h; rollups up to date)", stats["pandas"], nb)
    result.target, result.passed = "< 1 s", nb.median < 1.0
    result.note = ("Same numbers both sides (volume checked). Reading the logs directly instead "
                   "(no rollups, as before): " + ", ".join(f"{k} {v.show()}" for k, v in parts.items())
                   + ".")
    rows = [result]
    for key, label, note in (
            ("new batch", "right after 60,000 more predictions and 12,000 outcomes were logged",
             "Informational: the rollups catch up with the new files first (the new predictions' "
             "hour is rolled up again; the outcomes, 6,000 for the new predictions and 6,000 late "
             "ones for the previous day's, are joined to all predictions and merged)."),
            ("cold", "with no rollups yet",
             "Informational: the first dashboard of a workspace builds the rollups, once.")):
        row = compare(f"`show.monitor(window='7d')` over {n:,} predictions, {label}",
                      stats["pandas"], more[key])
        row.note = note
        rows.append(row)
    return rows


def _log_another_batch(ws: Any, n: int) -> list[str]:
    """One more prediction file in the last hour and one outcome file for part of it, as the
    logger writes them; returns their paths."""
    import numpy as np
    import pyarrow as pa

    from nbops.monitor.files import LogFiles

    files = LogFiles.for_settings(ws.settings)
    rng = np.random.default_rng(1)
    k, t = 60_000, START + timedelta(hours=HOURS - 1)
    base = np.datetime64(t.replace(tzinfo=None), "us").astype(np.int64)
    ts = np.sort(base + rng.integers(0, 3_600_000_000, k))
    ids = pa.array([f"extra{i}" for i in range(k)])
    table, _ = _prediction_table(rng, ids, ts)
    date = t.strftime("%Y-%m-%d")
    paths = [files.write(files.partition("predictions", "bench", date, t.hour), table)]
    m = k // 10
    # outcomes for the new predictions and as many late ones for the previous day's (a later
    # outcome wins): labels arrive for recent traffic
    day = 24 * (n // HOURS)
    old = pa.array([f"r{i}" for i in n - day + rng.choice(day, m, replace=False)])
    paths.append(files.write(files.partition("outcomes", None, date, t.hour), pa.table({
        "request_id": pa.concat_arrays([ids.slice(0, m), old]),
        "ts": pa.array(np.full(2 * m, base + 3_599_000_000), pa.timestamp("us", tz="UTC")),
        "y_true": rng.integers(0, 2, 2 * m)})))
    return paths


def _monitor_parts(ws: Any, until: datetime, repeat: int) -> dict[str, Stat]:
    """The dashboard's two log queries without rollups: traffic with exact latency percentiles,
    and accuracy on the outcome join."""
    from nbops.monitor.reporting import Monitor

    mon = Monitor(ws)
    scan, outcomes = mon.scan("bench"), mon.outcome_scan()
    assert scan is not None and outcomes is not None
    since = until - timedelta(days=7)
    sides = {
        "traffic with exact latency percentiles": lambda _: measure(
            lambda: mon.repo.traffic_buckets(scan, since, until, 10800))[0],
        "outcome join (accuracy)": lambda _: measure(lambda: mon.repo.performance_buckets(
            scan, outcomes, since, until, 10800, regression=False, numeric=True))[0]}
    return alternate(sides, repeat)


def run(quick: bool, only: str | None = None) -> list[Result]:
    os.environ.pop("NBOPS_HOME", None)
    repeat = QUICK_REPEAT if quick else FULL_REPEAT
    n_runs, n_pred = (2_000, 1_000_000) if quick else (10_000, 10_000_000)
    runs = [runs_figure(n_runs, repeat)] if only in (None, "runs") else []
    # The pandas anchor reads 10M rows a round: three rounds of the monitor figure are enough.
    return runs + (monitor_figure(n_pred, min(repeat, 3)) if only in (None, "monitor") else [])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from run_all import table

    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    print(table(run("--quick" in sys.argv, only), ANCHOR))
