"""Serve benchmark calls inside an anchor's own virtual environment (e.g. MLflow's).

Started by ``bench/anchor.py``. Reads one JSON request per line on stdin,
``{"call": "module.function", "kwargs": {...}}`` where ``module`` lives in bench/,
and answers one JSON line, ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": ...}``.
Anything the anchor prints goes to stderr, so the protocol stream stays clean.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path


def _exit_with_parent() -> None:
    """Stop when the benchmark that started us is gone, even in the middle of a long call."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def main() -> None:
    _exit_with_parent()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # child processes and print() now write to stderr
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            module, _, func = req["call"].rpartition(".")
            result = getattr(importlib.import_module(module), func)(**req.get("kwargs", {}))
            answer = {"ok": True, "result": result}
        except Exception:
            answer = {"ok": False, "error": traceback.format_exc()}
        proto.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
