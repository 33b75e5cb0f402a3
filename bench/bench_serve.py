"""Model server benchmarks: one-row latency over raw ``model.predict``, throughput with and without logging.

Run directly (``python bench/bench_serve.py [--quick]``) to print a table; ``run(quick)``
returns the rows for a combined report. The servers are the real command (``nbops serve
--no-auth``, one worker) in subprocesses; the client is this process, on keep-alive
connections with TCP_NODELAY. The raw figure is ``model.predict`` of the same one-row
DataFrame the server builds, in this process. Rounds alternate raw/server and
logging-on/off; figures are medians over the rounds with min-max.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SECTION = "Model server"
_SRC = Path(__file__).resolve().parents[1] / "src"
_ROW = {"age": 42, "spend": 0.25}
_PATH = "/v1/models/churn@production/predict"


def _stats(xs: list[float], unit: str) -> str:
    return f"median of {len(xs)} rounds, range {min(xs):,.3f}-{max(xs):,.3f} {unit}"


def _workspace(tmp: Path) -> Any:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import nbops
    from nbops import registry

    ws = nbops.open(tmp)
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.integers(18, 80, 1000), "spend": rng.normal(size=1000)})
    with ws.run(name="train") as run:
        run.log_dataset(X, "X_train", role="input")
        run.log_model(LogisticRegression().fit(X, (X.spend > 0).astype(int)), "clf")
    registry.register(f"{run.run_id}/clf", "churn", ws=ws)
    registry.promote("churn", 1, "production", ws=ws)
    return ws


def _start(tmp: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "nbops", "serve", "--no-auth", "--port", str(port), *extra],
                            cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 120
    while time.monotonic() < end:
        try:
            conn = _connect(port)
            _post(conn)  # loads the model
            conn.close()
            return proc, port
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("nbops serve did not start")


def _connect(port: int) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def _post(conn: http.client.HTTPConnection, body: bytes = json.dumps(_ROW).encode()) -> None:
    conn.request("POST", _PATH, body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}")


def _latencies(fn: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))] * 1000


def bench_latency(ws: Any, port: int, n: int, rounds: int) -> list[dict[str, object]]:
    from nbops.serve.models import ModelTable
    from nbops.serve.schema import to_frame

    loaded = ModelTable(ws).get("churn@production")
    X, _ = to_frame(_ROW, loaded.schema)
    raw50, raw99, srv50, srv99 = [], [], [], []
    for _ in range(rounds):
        raw = _latencies(lambda: loaded.model.predict(X), n)
        conn = _connect(port)  # a new connection per round: uvicorn closes idle ones after 5 s
        _post(conn)
        srv = _latencies(lambda c=conn: _post(c), n)
        conn.close()
        raw50.append(_pct(raw, 0.5))
        raw99.append(_pct(raw, 0.99))
        srv50.append(_pct(srv, 0.5))
        srv99.append(_pct(srv, 0.99))
    add50 = [s - r for s, r in zip(srv50, raw50, strict=True)]
    add99 = [s - r for s, r in zip(srv99, raw99, strict=True)]
    row = {"unit": "ms"}
    return [
        {**row, "case": "raw model.predict, one row, p50", "value": statistics.median(raw50), "detail": _stats(raw50, "ms")},
        {**row, "case": "raw model.predict, one row, p99", "value": statistics.median(raw99), "detail": _stats(raw99, "ms")},
        {**row, "case": "HTTP round trip, one row, p50", "value": statistics.median(srv50), "detail": _stats(srv50, "ms")},
        {**row, "case": "HTTP round trip, one row, p99", "value": statistics.median(srv99), "detail": _stats(srv99, "ms")},
        {**row, "case": "added by the server, p50 (target <= 1 ms)", "value": statistics.median(add50),
         "detail": _stats(add50, "ms")},
        {**row, "case": "added by the server, p99 (target <= 5 ms)", "value": statistics.median(add99),
         "detail": _stats(add99, "ms")},
    ]


def _throughput(port: int, n: int, connections: int = 4) -> float:
    def worker() -> None:
        conn = _connect(port)
        for _ in range(n // connections):
            _post(conn)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return n / (time.perf_counter() - t)


def bench_throughput(on: int, off: int, n: int, rounds: int) -> list[dict[str, object]]:
    rates: dict[str, list[float]] = {"on": [], "off": []}
    for i in range(rounds):
        for side in (("on", "off") if i % 2 == 0 else ("off", "on")):
            rates[side].append(_throughput(on if side == "on" else off, n))
    ratio = [a / b for a, b in zip(rates["on"], rates["off"], strict=True)]
    return [
        {"case": "throughput, logging on (4 connections)", "value": statistics.median(rates["on"]),
         "unit": "req/s", "detail": _stats(rates["on"], "req/s")},
        {"case": "throughput, logging off", "value": statistics.median(rates["off"]), "unit": "req/s",
         "detail": _stats(rates["off"], "req/s")},
        {"case": "logging on / off (target >= 90%)", "value": statistics.median(ratio) * 100, "unit": "%",
         "detail": _stats([r * 100 for r in ratio], "%")},
    ]


def run(quick: bool = False) -> list[dict[str, object]]:
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(_SRC), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        os.environ["NBOPS_HOME"] = str(tmp / ".nbops")
        ws = _workspace(tmp)
        procs = []
        try:
            on, p_on = _start(tmp)
            procs.append(on)
            off, p_off = _start(tmp, "--no-log")
            procs.append(off)
            rows = bench_latency(ws, p_on, 300 if quick else 2000, 3 if quick else 5)
            rows += bench_throughput(p_on, p_off, 1000 if quick else 4000, 4 if quick else 6)
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=60)
            ws.close()
            os.environ.pop("NBOPS_HOME")
    return rows


def main() -> None:
    from common import print_rows

    print_rows(run(quick="--quick" in sys.argv), sys.argv)


if __name__ == "__main__":
    sys.path.insert(0, str(_SRC))
    main()
