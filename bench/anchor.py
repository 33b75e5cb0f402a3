"""Anchors (the tools nbops is compared with) run in their own virtual environment.

MLflow 3.17.2 pins pyarrow below what nbops uses, so it lives in
``bench/.venv-mlflow`` (created on first use) and is driven through one
long-lived worker process; the benchmark alternates calls to it with nbops
calls in the main process. The worker times its own operations, so process
hops never count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import BENCH_DIR, CACHE

MLFLOW_VERSION = "3.17.2"
MLFLOW_VENV = BENCH_DIR / ".venv-mlflow"


class AnchorError(RuntimeError):
    pass


def _same_as_here(*dists: str) -> list[str]:
    """Pin shared libraries to this environment's versions, so both sides run the same code."""
    from importlib.metadata import version

    return [f"{d}=={version(d)}" for d in dists]


def mlflow_requirements() -> list[str]:
    # plotly and the widget libraries: bench_widgets builds MLflow's dashboard figures there.
    return [f"mlflow=={MLFLOW_VERSION}", *_same_as_here("scikit-learn", "pandas", "numpy", "plotly",
                                                          "ipywidgets", "anywidget")]


def ensure_venv(venv: Path, requirements: list[str]) -> Path:
    """The Python of ``venv``, created and filled with ``requirements`` when they changed."""
    python = venv / "bin" / "python"
    stamp = venv / ".bench-requirements"
    wanted = "\n".join(requirements) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"bench: setting up {venv.name} ({', '.join(requirements)}); this takes a few minutes",
          file=sys.stderr)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)
    stamp.write_text(wanted)
    return python


class AnchorWorker:
    """A worker process in an anchor's environment; ``call("module.func", **kw)`` runs there."""

    def __init__(self, python: Path, cwd: Path, env: dict[str, str] | None = None) -> None:
        cwd.mkdir(parents=True, exist_ok=True)
        self.log_path = CACHE / "anchor-worker.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the worker
        child_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        child_env.update(env or {})
        self._pending = ""
        self.proc = subprocess.Popen(
            [str(python), str(BENCH_DIR / "anchor_worker.py")], cwd=cwd, env=child_env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1,
        )

    def call(self, func: str, **kwargs: Any) -> Any:
        """Run ``func`` in the worker and return its result."""
        self.submit(func, **kwargs)
        return self.result()

    def submit(self, func: str, **kwargs: Any) -> None:
        """Start ``func`` in the worker without waiting (collect it with :meth:`result`)."""
        assert self.proc.stdin is not None
        self._pending = func
        self.proc.stdin.write(json.dumps({"call": func, "kwargs": kwargs}) + "\n")
        self.proc.stdin.flush()

    def result(self) -> Any:
        """The answer to the last :meth:`submit`."""
        assert self.proc.stdout is not None
        func = self._pending
        line = self.proc.stdout.readline()
        if not line:
            raise AnchorError(f"the anchor worker died during {func}; see {self.log_path}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise AnchorError(f"{func} failed in the anchor worker:\n{answer['error']}")
        return answer["result"]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def __enter__(self) -> AnchorWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def mlflow_worker(cwd: Path) -> AnchorWorker:
    """A worker with MLflow importable, working in ``cwd`` (where ``mlflow.db`` goes)."""
    python = ensure_venv(MLFLOW_VENV, mlflow_requirements())
    # No telemetry, no git lookups: the anchor should spend its time on the work measured.
    env = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
           "GIT_PYTHON_REFRESH": "quiet", "MLFLOW_TRACKING_URI": f"sqlite:///{cwd}/mlflow.db"}
    return AnchorWorker(python, cwd, env)
