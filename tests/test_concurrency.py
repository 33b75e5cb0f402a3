"""Several processes recording into one embedded workspace at the same time lose nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from workers import blob_content

import nbops
from nbops.catalog.migrations import latest_version

WORKERS = 4
RUNS_EACH = 200


def _start(kind: str, worker: int, n: int, home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("workers.py")), kind, str(worker), str(n)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NBOPS_HOME": str(home)})


@pytest.mark.slow
def test_four_processes_record_800_runs_and_every_row_is_there_once(workspace_dir: Path) -> None:
    home = workspace_dir / ".nbops"
    nbops.open().close()
    procs = [_start("small", w, RUNS_EACH, home) for w in range(WORKERS)]
    outputs = [p.communicate(timeout=600) for p in procs]
    for w, (p, (_, err)) in enumerate(zip(procs, outputs, strict=True)):
        assert p.returncode == 0 and "Traceback" not in err, f"worker {w} failed:\n{err[-3000:]}"
    reported = [out.split() for out, _ in outputs]
    assert [len(ids) for ids in reported] == [RUNS_EACH] * WORKERS

    with nbops.open(create=False) as ws:
        runs = ws.sql("SELECT run_id, name, status FROM runs")
        assert len(runs) == WORKERS * RUNS_EACH and runs["run_id"].is_unique
        assert set(runs["run_id"]) == {i for ids in reported for i in ids}
        assert set(runs["status"]) == {"finished"}

        params = ws.sql("SELECT run_id, key, value FROM params")
        assert len(params) == 2 * len(runs) and not params.duplicated(["run_id", "key"]).any()
        metrics = ws.sql("SELECT r.name, m.value FROM metrics m JOIN runs r USING (run_id)")
        assert len(metrics) == len(runs) and metrics["name"].is_unique
        expected = {f"w{w}-{i}": w * 1000 + i for w in range(WORKERS) for i in range(RUNS_EACH)}
        assert dict(zip(metrics["name"], metrics["value"], strict=True)) == expected

        arts = ws.sql("SELECT r.name, a.object_key FROM artifacts a JOIN runs r USING (run_id)")
        assert len(arts) == len(runs) and arts["name"].is_unique
        for name, key in zip(arts["name"], arts["object_key"], strict=True):
            w, i = (int(x) for x in name[1:].split("-"))
            assert ws.store.get(key) == blob_content(w, i)
        objects = ws.sql("SELECT object_key FROM objects")
        assert objects["object_key"].is_unique and set(objects["object_key"]) == set(arts["object_key"])


def test_processes_opening_a_new_workspace_at_once_share_one_schema(workspace_dir: Path) -> None:
    from nbops.config import init_workspace

    home = init_workspace()  # a config, no catalog yet: the first opener creates it
    procs = [_start("small", w, 2, home) for w in range(4)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0 and "Traceback" not in err, err[-3000:]
    with nbops.open(create=False) as ws:
        versions = ws.sql("SELECT version FROM schema_version ORDER BY version")["version"].tolist()
        assert versions == list(range(1, latest_version() + 1))  # every migration applied once
        assert len(ws.runs()) == 8
        assert len(ws.sql("SHOW TABLES")) == len(set(ws.sql("SHOW TABLES")["name"]))
