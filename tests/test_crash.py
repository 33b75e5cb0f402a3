"""A process killed with SIGKILL while recording leaves a workspace that is whole."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import nbops
from nbops.store.objects import content_key

COMMITTED_BEFORE_KILL = 6


def _record_until_killed(home: Path, worker: int, seed: int) -> list[str]:
    """Start a recording loop, SIGKILL it at a random moment after a few commits; return
    the ids it reported as committed."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("workers.py")), "data", str(worker), "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NBOPS_HOME": str(home)})
    assert proc.stdout is not None
    ids = []
    try:
        for line in proc.stdout:
            ids.append(line.strip())
            if len(ids) == COMMITTED_BEFORE_KILL:
                break
        time.sleep(random.Random(seed).uniform(0.0, 0.4))  # land somewhere inside the next run
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, f"the recorder ended by itself:\n{err[-3000:]}"
    return ids + out.split()


def _store_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".tmp")]


@pytest.mark.slow
def test_sigkill_while_recording_loses_nothing_committed(workspace_dir: Path) -> None:
    home = workspace_dir / ".nbops"
    nbops.open().close()
    reported = []
    for round_ in range(3):  # each recorder starts on what the previous one left
        reported += _record_until_killed(home, worker=round_, seed=round_)

    with nbops.open(create=False) as ws:
        runs = ws.sql("SELECT run_id, status FROM runs")
        assert set(reported) <= set(runs["run_id"])
        assert runs["run_id"].is_unique and set(runs["status"]) == {"finished"}
        # Each run is all or nothing: a committed run has every row it recorded.
        counts = ws.sql("""
            SELECT r.run_id,
                   (SELECT count(*) FROM params p WHERE p.run_id = r.run_id) AS params,
                   (SELECT count(*) FROM metrics m WHERE m.run_id = r.run_id) AS metrics,
                   (SELECT count(*) FROM artifacts a WHERE a.run_id = r.run_id) AS artifacts
            FROM runs r""")
        assert (counts[["params", "metrics", "artifacts"]] == [1, 1, 2]).all().all(), counts
        keys = ws.artifacts.referenced_keys()
        assert len(keys) == 2 * len(runs)
        for key in keys:
            ws.store.get(key)  # exists, and its bytes hash to its key
        # No partial object sits under a real key (temporary files may be left over).
        store = Path(ws.settings.store_path)
        for path in _store_files(store):
            assert content_key(path.read_bytes()) == path.parent.name + path.name, path
        df = ws.load(f"{reported[-1]}/sample")
        assert isinstance(df, pd.DataFrame) and len(df) == 20_000
        with ws.run(name="after") as run:  # and the workspace takes new runs at once
            run.log_param("ok", True)
        assert len(ws.runs()) == len(runs) + 1


_WRITE_BIG_OBJECT = """
import os, sys
from nbops.store.objects import LocalBackend, ObjectStore
ObjectStore(LocalBackend(sys.argv[1])).put(os.urandom(256 * 2**20))
"""


@pytest.mark.slow
def test_sigkill_in_the_middle_of_an_object_write_leaves_no_partial_object(tmp_path: Path) -> None:
    store = tmp_path / "objects"
    store.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", _WRITE_BIG_OBJECT, str(store)])
    try:
        deadline = time.monotonic() + 60
        while not any(p.is_file() for p in store.rglob("*")):  # the write has begun
            assert proc.poll() is None and time.monotonic() < deadline, "the writer never wrote"
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, "the write finished before the kill"
    assert _store_files(store) == []  # only a temporary file is left
