"""Pipelines benchmarks: `nbops run` against bare papermill, and a scheduler tick over 1,000 schedules.

Run directly (``python bench/bench_pipelines.py [--quick]``) to print a table;
``run(quick)`` returns the rows for a combined report. Both runners execute
the same notebook in the same process, alternately, so machine noise hits
both; figures are medians with min-max.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

SECTION = "pipelines"
_SRC = Path(__file__).resolve().parents[1] / "src"


def _notebook(path: Path) -> Path:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    cells = [new_code_cell("n = 10", metadata={"tags": ["parameters"]}),
             new_code_cell("total = sum(range(n))"), new_code_cell("print(total)")]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), path)
    return path


def _stats(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f} ({min(xs):.3f}-{max(xs):.3f})"


def bench_run_overhead(tmp: Path, repeats: int) -> list[dict[str, object]]:
    import papermill as pm

    import nbops
    from nbops.pipelines import run

    nb = _notebook(tmp / "nb.ipynb")
    ws = nbops.open(tmp)
    bare: list[float] = []
    ours: list[float] = []
    run(nb, {"n": 5}, ws=ws, progress=False)  # warm imports and the catalog
    pm.execute_notebook(str(nb), str(tmp / "out.ipynb"), parameters={"n": 5}, progress_bar=False)

    def papermill_once() -> None:
        pm.execute_notebook(str(nb), str(tmp / "out.ipynb"), parameters={"n": 5},
                            progress_bar=False, kernel_name="python3")

    def nbops_once() -> None:
        assert run(nb, {"n": 5}, ws=ws, progress=False).ok

    for i in range(repeats):  # alternate which goes first, so drift in load hits both
        pair = [(papermill_once, bare), (nbops_once, ours)]
        for fn, times in pair if i % 2 else pair[::-1]:
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    ws.close()
    diff = statistics.median(ours) - statistics.median(bare)
    ratio = statistics.median(ours) / statistics.median(bare)
    return [
        {"section": SECTION, "case": "3-cell notebook, papermill.execute_notebook", "unit": "s",
         "value": statistics.median(bare), "detail": _stats(bare)},
        {"section": SECTION, "case": "same notebook, nbops.pipelines.run (recorded)", "unit": "s",
         "value": statistics.median(ours), "detail": _stats(ours)},
        {"section": SECTION, "case": "nbops run overhead over papermill", "unit": "s",
         "value": diff, "detail": f"x{ratio:.2f} of papermill; target <=10% or <=0.5 s"},
    ]


def bench_tick(tmp: Path, n: int, repeats: int) -> list[dict[str, object]]:
    import nbops
    from nbops.catalog.pipeline_records import ScheduleRow
    from nbops.pipelines.clock import FakeClock
    from nbops.pipelines.scheduler import Scheduler

    (tmp / "ws").mkdir()
    ws = nbops.open(tmp / "ws")
    t0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    crons = ["0 * * * *", "*/15 * * * *", "30 2 * * 1-5", "0 6 1 * *"]
    rows = [ScheduleRow(f"s{i:04d}", 1, "nb.ipynb", crons[i % 4], "UTC", None, "{}", 0, 60.0,
                        None, "none", None, None, None, False, False, "bench", t0, "bench", t0)
            for i in range(n)]
    ws.catalog.transaction(lambda con: ws.catalog.insert(con, "schedules", rows))
    clock = FakeClock(t0 + timedelta(minutes=1))  # nothing is due: the steady-state tick
    sched = Scheduler(ws, clock=clock)
    sched.start()
    t = time.perf_counter()
    sched.tick()
    first = time.perf_counter() - t
    ticks = []
    for _ in range(repeats):
        t = time.perf_counter()
        assert sched.tick() == []
        ticks.append(time.perf_counter() - t)
    sched.stop()
    ws.close()
    return [
        {"section": SECTION, "case": f"scheduler tick, {n} cron schedules, first (cold cron cache)",
         "unit": "s", "value": first, "detail": ""},
        {"section": SECTION, "case": f"scheduler tick, {n} cron schedules, steady state",
         "unit": "s", "value": statistics.median(ticks), "detail": _stats(ticks)},
    ]


def run(quick: bool = False) -> list[dict[str, object]]:
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(_SRC), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        os.environ["NBOPS_HOME"] = str(tmp / ".nbops")
        rows = bench_run_overhead(tmp, 3 if quick else 8)
        os.environ.pop("NBOPS_HOME")
        rows += bench_tick(tmp, 1000, 5 if quick else 20)
    return rows


def main() -> None:
    from common import print_rows

    print_rows(run(quick="--quick" in sys.argv), sys.argv)


if __name__ == "__main__":
    sys.path.insert(0, str(_SRC))
    main()
