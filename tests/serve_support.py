"""Helpers for the model server tests: registered models with training data, and uvicorn in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np
import pandas as pd
import uvicorn
from servers import free_port
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from nbops import registry
from nbops.serve import ServeConfig, create_app
from nbops.workspace import Workspace


def training_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(18, 80, n), "spend": rng.normal(size=n),
                         "plan": rng.choice(["basic", "pro"], n)})


def register_trained(ws: Workspace, name: str, model: Any, columns: list[str], run_name: str) -> int:
    """Fit ``model`` in a tracked run that read the training frame; register it; return its version."""
    X = training_frame()
    y = (X.spend > 0).astype(int)
    with ws.run(name=run_name) as run:
        run.log_dataset(X, "X_train", role="input")
        run.log_model(model.fit(X[columns], y), "clf")
    return registry.register(f"{run.run_id}/clf", name, ws=ws).version


def register_churn(ws: Workspace) -> None:
    """churn v1 (logistic, production), v2 (always 1, challenger), v3 (needs a feature v1 lacks: broken)."""
    register_trained(ws, "churn", LogisticRegression(), ["age", "spend"], "train v1")
    register_trained(ws, "churn", DummyClassifier(strategy="constant", constant=1), ["age", "spend"], "train v2")
    X = training_frame()
    X["extra"] = 1.0
    with ws.run(name="train v3") as run:
        run.log_dataset(X, "X_train", role="input")
        run.log_model(LogisticRegression().fit(X[["age", "spend", "extra"]], (X.spend > 0).astype(int)), "clf")
    registry.register(f"{run.run_id}/clf", "churn", ws=ws)
    registry.promote("churn", 1, "production", ws=ws)
    registry.promote("churn", 2, "challenger", ws=ws)
    registry.promote("churn", 3, "broken", ws=ws)


class Server:
    def __init__(self, server: uvicorn.Server, thread: threading.Thread, port: int, app: Any) -> None:
        self.server, self.thread, self.port, self.app = server, thread, port, app
        self.url = f"http://127.0.0.1:{port}"

    @property
    def state(self) -> Any:
        return self.app.state.nbops

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@contextmanager
def serving(ws: Workspace, config: ServeConfig) -> Iterator[Server]:
    """The app on real uvicorn, on a free loopback port, in a thread; shut down (and flushed) after."""
    app = create_app(ws, config)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started, "the server to start")
    try:
        yield Server(server, thread, port, app)
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
