"""nbops.track(): the %%track records for blocks of a plain script, without IPython."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = '''
import nbops, pandas as pd
from sklearn.linear_model import LogisticRegression
with nbops.track("load"):
    df = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
    C = 0.5
with nbops.track("train") as run:
    clf = LogisticRegression(C=C).fit(df[["a"]], df.y)
    acc = clf.score(df[["a"]], df.y)
df.loc[0, "a"] = 9.0
with nbops.track("again", quiet=True):
    acc2 = clf.score(df[["a"]], df.y)
try:
    with nbops.track("fails"):
        raise KeyError("missing")
except KeyError:
    print("error propagated")
'''


def test_script_blocks_are_runs_with_lineage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "train.py").write_text(SCRIPT)
    env = {**__import__("os").environ, "NBOPS_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "error propagated" in proc.stdout
    assert "model clf v1" in proc.stderr and "acc=1" in proc.stderr
    monkeypatch.setenv("NBOPS_HOME", str(tmp_path))
    import nbops

    with nbops.open() as ws:
        runs = ws.runs(sort="started_at", ascending=True)
        assert runs["name"].tolist() == ["load", "train", "again", "fails"]
        assert runs["status"].tolist() == ["finished", "finished", "finished", "failed"]
        assert runs.loc[0, "param.C"] == 0.5 and runs.loc[1, "metric.acc"] == 1.0
        again = ws.run_details(runs.loc[2, "run_id"])["run"]
        assert "df: changed by an untracked cell" in again["tags"]
        edges = ws.runs_repo.lineage_edges(runs.loc[1, "run_id"])
        assert {"var:df", "var:C"} <= set(edges["relation"])
        assert "clf = LogisticRegression" in ws.run_details(runs.loc[1, "run_id"])["run"]["code"]


def test_cli_diff_and_lineage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from nbops.cli import main

    (tmp_path / "train.py").write_text(SCRIPT)
    env = {**__import__("os").environ, "NBOPS_HOME": str(tmp_path)}
    subprocess.run([sys.executable, "train.py"], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=300)
    monkeypatch.setenv("NBOPS_HOME", str(tmp_path))
    import nbops

    with nbops.open() as ws:
        ids = ws.runs(sort="started_at", ascending=True)["run_id"].tolist()
    runner = CliRunner()
    out = runner.invoke(main, ["diff", ids[0], ids[1]])
    assert out.exit_code == 0 and "code:" in out.output and "C = 0.5" in out.output
    out = runner.invoke(main, ["lineage", "clf"])
    assert out.exit_code == 0 and "clf@v1 (model)" in out.output and "load" in out.output
