"""Team mode for real: the catalog in PostgreSQL, data and objects on S3, two writers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from servers import Postgres, S3Server, s3_config
from workers import team_frame

import nbops
from nbops.config import init_workspace

WORKERS = 2
RUNS_EACH = 3


def _psql(pg: Postgres, db: str, sql: str) -> str:
    cmd = [str(pg.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", pg.user, "-d", db,
           "-tAc", sql]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


@pytest.mark.slow
def test_two_processes_record_into_postgres_and_s3(workspace_dir: Path, postgres: Postgres,
                                                   moto_server: S3Server, s3_bucket: str) -> None:
    db = postgres.create_database()
    home = init_workspace()
    (home / "config.toml").write_text(s3_config(
        moto_server, s3_bucket, catalog_url=f"ducklake:postgres:{postgres.conninfo(db)}"))
    with nbops.open(create=False) as ws:  # creates the DuckLake metadata and the nbops schema
        assert not ws.settings.is_embedded

    procs = [subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("workers.py")), "team", str(w), str(RUNS_EACH)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NBOPS_HOME": str(home)}) for w in range(WORKERS)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0 and "Traceback" not in err, err[-3000:]
    reported = {run_id for out, _ in outputs for run_id in out.split()}
    assert len(reported) == WORKERS * RUNS_EACH

    with nbops.open(create=False) as ws:
        runs = ws.runs()
        assert set(runs["run_id"]) == reported and set(runs["status"]) == {"finished"}
        assert runs["param.C"].sort_values().tolist() == [0.5, 0.5, 1.5, 1.5, 2.5, 2.5]
        assert (runs["metric.acc"] > 0.9).all()
        steps = ws.sql("SELECT run_id, count(*) AS n, max(step) AS last FROM metrics "
                       "WHERE key = 'loss' GROUP BY run_id")
        assert set(steps["n"]) == {3} and set(steps["last"]) == {2}
        for name, row in runs.set_index("name").iterrows():
            w, i = (int(x) for x in str(name)[1:].split("-"))
            df = ws.load(f"data_w{w}_{i}")
            pd.testing.assert_frame_equal(df, team_frame(w, i))
            model = ws.load(f"model_w{w}_{i}")
            y = (df["a"] + df["b"] > 0).astype(int)
            assert model.C == 0.5 + i and model.score(df[["a", "b"]], y) == row["metric.acc"]
        keys = set(ws.sql("SELECT object_key FROM artifacts")["object_key"])

    s3_keys = [o["Key"] for o in moto_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]]
    stored = {k.removeprefix("objects/").replace("/", "") for k in s3_keys if k.startswith("objects/")}
    assert stored == keys
    assert not (home / "objects").exists() and not (home / "catalog.sqlite").exists()
    assert int(_psql(postgres, db, "SELECT count(*) FROM ducklake_snapshot")) > WORKERS * RUNS_EACH
