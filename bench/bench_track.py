"""User-visible overhead of %%track, and side by side with MLflow autolog on the same cell.

Measures, in a real IPython shell on a temporary workspace:

* a cell that touches no data (target: ≤ 20 ms median added);
* a cell that trains a RandomForest on a 100k × 20 frame (target: ≤ max(10 % of
  the cell's own time, 100 ms) added), cold (first run stores the data) and
  warm (data already stored; each repetition fits a new model, so the model is
  always serialized);
* MLflow autolog on the same RandomForest cell (added time = run − plain fit),
  in the interpreter named by ``NBOPS_MLFLOW_PYTHON`` when mlflow is not
  importable here (skipped with a note otherwise).

The added time of %%track is the cell's wall time minus the body's own time,
and is split into AST/snapshot analysis, fingerprints, serialization and
queueing the commit; the catalog commit itself runs on a background thread
after the cell returns and is reported apart (``background_commit``). Run directly: ``python bench/bench_track.py [--quick]``.
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

SECTION = "tracking"

N_ROWS, N_COLS = 100_000, 20
RF = "n_estimators=10, max_depth=12, n_jobs=2"

_SETUP = f"""
import numpy as np, pandas as pd
rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=({N_ROWS}, {N_COLS})), columns=[f"f{{i}}" for i in range({N_COLS})])
y = (X.f0 + 0.5 * X.f1 + rng.normal(size=len(X)) > 0).astype(int)
from sklearn.ensemble import RandomForestClassifier
"""
_NO_DATA = "a = 1 + 1\nb = [a * i for i in range(10)]\n"
_RF_BODY = "clf = RandomForestClassifier({rf}, random_state={seed}).fit(X, y)\n"


def _shell(home: str) -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    os.environ["NBOPS_HOME"] = home
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbops")
    ip.run_cell(_SETUP)
    return ip


def _tracked(ip: Any, body: str) -> tuple[float, dict[str, float], float]:
    """(added ms, split of the added time, body ms) of one %%track execution."""
    t0 = time.perf_counter()
    ip.run_cell("%%track -q\n" + body)
    wall = (time.perf_counter() - t0) * 1000.0
    session = ip.magics_manager.registry["NbopsMagics"].session
    session.flush()  # not user-visible: the commit runs in the background, measured apart
    last = session.last
    split = {**last.timings, "background_commit": session.committer.last_commit_s * 1000.0}
    return wall - last.body_ms, split, last.body_ms


def _plain(ip: Any, body: str) -> float:
    t0 = time.perf_counter()
    ip.run_cell(body)
    return (time.perf_counter() - t0) * 1000.0


def _row(case: str, added: list[float], body: list[float], split: list[dict[str, float]],
         target: str, ok: bool) -> dict[str, Any]:
    med = {k: statistics.median(s[k] for s in split) for k in split[0]} if split else {}
    return {"case": case, "n": len(added), "added_ms_median": statistics.median(added),
            "added_ms_min": min(added), "added_ms_max": max(added),
            "cell_ms_median": statistics.median(body), "target": target, "meets_target": ok,
            **{f"split_{k}_ms": round(v, 2) for k, v in med.items()}}


def _no_data(ip: Any, n: int) -> dict[str, Any]:
    for _ in range(3):  # warm up: workspace open, first commit
        _tracked(ip, _NO_DATA)
    added, body, split = [], [], []
    for _ in range(n):
        plain = _plain(ip, _NO_DATA)
        a, s, b = _tracked(ip, _NO_DATA)
        added.append(a + b - plain)  # versus the same cell untracked
        body.append(plain)
        split.append(s)
    med = statistics.median(added)
    return _row("no-data cell", added, body, split, "≤ 20 ms", med <= 20.0)


def _random_forest(ip: Any, n: int) -> list[dict[str, Any]]:
    cold, s0, b0 = _tracked(ip, _RF_BODY.format(rf=RF, seed=100))
    rows = [_row("RandomForest 100k×20, cold (stores X, y)", [cold], [b0], [s0],
                 "≤ max(10 %, 100 ms)", cold <= max(0.1 * b0, 100.0))]
    added, body, split = [], [], []
    for seed in range(n):
        a, s, b = _tracked(ip, _RF_BODY.format(rf=RF, seed=seed))
        added.append(a)
        body.append(b)
        split.append(s)
    med, cell = statistics.median(added), statistics.median(body)
    rows.append(_row("RandomForest 100k×20, warm (new model each run)", added, body, split,
                     "≤ max(10 %, 100 ms)", med <= max(0.1 * cell, 100.0)))
    ip.run_cell("X = X * 1.0001")  # new content: the next tracked cell stores X again
    a, s, b = _tracked(ip, _RF_BODY.format(rf=RF, seed=999))
    rows.append(_row("RandomForest 100k×20, new data (stores X again, imports warm)", [a], [b], [s],
                     "≤ max(10 %, 100 ms)", a <= max(0.1 * b, 100.0)))
    return rows


_MLFLOW_SCRIPT = _SETUP + """
import json, os, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
import mlflow
os.environ.setdefault("MLFLOW_TRACKING_URI", "sqlite:///" + os.path.join(sys.argv[1], "mlflow.db"))
mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
mlflow.sklearn.autolog(log_models=True, silent=True)
out = {"version": mlflow.__version__, "added": [], "cell": []}
for seed in range(int(sys.argv[2])):
    mlflow.sklearn.autolog(disable=True)
    t0 = time.perf_counter(); RandomForestClassifier(__RF__, random_state=seed).fit(X, y)
    plain = (time.perf_counter() - t0) * 1000
    mlflow.sklearn.autolog(log_models=True, silent=True)
    t0 = time.perf_counter()
    with mlflow.start_run():
        RandomForestClassifier(__RF__, random_state=seed).fit(X, y)
    out["added"].append((time.perf_counter() - t0) * 1000 - plain)
    out["cell"].append(plain)
print(json.dumps(out))
""".replace("__RF__", RF)


def _mlflow(n: int, workdir: str) -> dict[str, Any] | str:
    python = os.environ.get("NBOPS_MLFLOW_PYTHON")
    if python is None:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            return "mlflow not importable; set NBOPS_MLFLOW_PYTHON to a Python that has mlflow"
        python = sys.executable
    script = Path(workdir) / "mlflow_autolog.py"
    script.write_text(_MLFLOW_SCRIPT)
    proc = subprocess.run([python, str(script), workdir, str(n)], cwd=workdir, capture_output=True,
                          text=True, timeout=3600)
    if proc.returncode != 0:
        return f"MLflow run failed: {proc.stderr.strip().splitlines()[-1:]}"
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return _row(f"MLflow {data['version']} autolog, same RandomForest cell", data["added"],
                data["cell"], [], "reference", True)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows of the tracking benchmark; ``quick`` uses fewer repetitions."""
    n_small, n_rf = (20, 2) if quick else (100, 5)
    with tempfile.TemporaryDirectory() as tmp:
        ip = _shell(tmp)
        rows = [_no_data(ip, n_small)]
        rows += _random_forest(ip, n_rf)
        ml = _mlflow(n_rf, tmp)
        if isinstance(ml, str):
            rows.append({"case": "MLflow autolog", "note": f"skipped: {ml}"})
        else:
            rows.append(ml)
            warm = next(r for r in rows if r["case"].startswith("RandomForest 100k×20, warm"))
            ratio = ml["added_ms_median"] / max(warm["added_ms_median"], 1e-9)
            rows.append({"case": "MLflow autolog added time ÷ %%track added time (warm RF)",
                         "ratio": round(ratio, 1), "target": "≥ 10×", "meets_target": ratio >= 10})
        session = ip.magics_manager.registry["NbopsMagics"].session
        if session._ws is not None:
            session._ws.close()
    return rows


def _print(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        if "note" in r:
            print(f"{r['case']:<58} {r['note']}")
        elif "ratio" in r:
            print(f"{r['case']:<58} {r['ratio']}×  target {r['target']}  {'ok' if r['meets_target'] else 'MISSED'}")
        else:
            split = ", ".join(f"{k[6:-3]} {v:.1f}" for k, v in r.items() if k.startswith("split_"))
            print(f"{r['case']:<58} added {r['added_ms_median']:8.1f} ms median "
                  f"[{r['added_ms_min']:.1f}–{r['added_ms_max']:.1f}] n={r['n']}  "
                  f"cell {r['cell_ms_median']:.0f} ms  target {r['target']} "
                  f"{'ok' if r['meets_target'] else 'MISSED'}" + (f"\n{'':<58} split (ms): {split}" if split else ""))


if __name__ == "__main__":
    _print(run(quick="--quick" in sys.argv))
