"""A separate process acting on a workspace, for the concurrency and crash tests.

    python governance_worker.py promote NAME VERSION ALIAS GO_FILE   (waits for GO_FILE first)
    python governance_worker.py grants PREFIX N
    python governance_worker.py loop NAME ALIAS                      (promotes v1/v2 until killed)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from nbops.errors import NbopsError
from nbops.governance.service import Governance
from nbops.registry import Registry
from nbops.workspace import Workspace


def main(argv: list[str]) -> None:
    ws = Workspace.open(create=False)
    mode = argv[0]
    if mode == "promote":
        name, version, alias, go = argv[1:5]
        print("ready", flush=True)
        while not Path(go).exists():
            time.sleep(0.005)
        try:
            mv = Registry(ws, "alice").promote(name, int(version), alias)
            print(json.dumps({"ok": mv.version}), flush=True)
        except NbopsError as exc:
            print(json.dumps({"error": type(exc).__name__, "message": exc.message}), flush=True)
    elif mode == "grants":
        prefix, n = argv[1], int(argv[2])
        gov = Governance(ws, "alice")
        for i in range(n):
            gov.grant(f"{prefix}{i}", "viewer")
        print("done", flush=True)
    elif mode == "loop":
        name, alias = argv[1:3]
        reg = Registry(ws, "alice")
        i = 0
        while True:
            try:
                current = reg.resolve(f"{name}@{alias}").version
            except NbopsError:
                current = 2
            reg.promote(name, 1 if current == 2 else 2, alias)
            i += 1
            print(i, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
