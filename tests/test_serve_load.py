"""Load: 20,000 requests from this process to ``nbops serve`` in another; no log row is lost.

The server is the real command (``nbops serve --no-auth --workers 2``) in a subprocess,
so two processes log side by side; four keep-alive connections send 5,000 one-row
requests each. The model is a constant classifier, so the time goes to the server and its
logging, not to scikit-learn's input checks. Then the server is stopped gracefully
(SIGINT, as Ctrl-C) and every answered request id must be in the Parquet log, once.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from serve_support import register_trained
from servers import free_port
from sklearn.dummy import DummyClassifier

from nbops import registry
from nbops.workspace import Workspace

REQUESTS, CONNECTIONS = 20_000, 4


def _send(port: int, n: int, ids: list[str], failures: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.connect()  # without TCP_NODELAY, headers and body in two packets wait ~40 ms for an ACK
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    headers = {"Content-Type": "application/json"}
    try:
        for i in range(n):
            body = json.dumps({"age": 20 + i % 50, "spend": (i % 7) / 7})
            conn.request("POST", "/v1/models/churn@production/predict", body, headers)
            r = conn.getresponse()
            data = r.read()
            if r.status != 200:
                failures.append(f"{r.status} {data[:200]!r}")
                continue
            ids.append(json.loads(data)["request_id"])
    finally:
        conn.close()


def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"nbops serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("nbops serve did not become healthy")


@pytest.mark.timeout(600)
def test_20000_requests_lose_no_log_row(workspace: Workspace, workspace_dir: Path) -> None:
    register_trained(workspace, "churn", DummyClassifier(strategy="constant", constant=1), ["age", "spend"],
                     "train")
    registry.promote("churn", 1, "production", ws=workspace)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "nbops", "serve", "--no-auth", "--port", str(port),
                             "--workers", "2"],
                            cwd=workspace_dir, env=env, stderr=subprocess.PIPE, text=True)
    ids: list[str] = []
    failures: list[str] = []
    try:
        _wait_healthy(port, proc)
        threads = [threading.Thread(target=_send, args=(port, REQUESTS // CONNECTIONS, ids, failures))
                   for _ in range(CONNECTIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert failures == [] and len(ids) == REQUESTS
    logged = workspace.catalog.query(
        "SELECT request_id, model_version FROM read_parquet(?, union_by_name = true)",
        [f"{workspace.settings.data_path.rstrip('/')}/monitor/predictions/**/*.parquet"])
    assert len(logged) == REQUESTS and logged.request_id.nunique() == REQUESTS
    assert set(logged.request_id) == set(ids)
    assert set(logged.model_version) == {1}
