"""The ``nbops`` command line, through click's CliRunner and once through the installed script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

import nbops
from nbops.cli import main


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def recorded(workspace_dir: Path) -> dict[str, str]:
    """A workspace with two runs (one with a dataset); their ids by name."""
    ids = {}
    with nbops.open() as ws:
        for name, model, acc in [("forest", "rf", 0.93), ("linear", "lr", 0.81)]:
            with ws.run(name=name) as run:
                run.log_params({"model": model})
                run.log_metric("acc", acc)
                run.log_metric("loss", 0.5, step=0)
                run.log_metric("loss", 0.25, step=1)
                run.log_dataset(pd.DataFrame({"x": range(10)}), "train", role="input")
            ids[name] = run.run_id
    return ids


def test_init_creates_a_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = _invoke("init", "proj")
    assert result.exit_code == 0
    assert f"workspace ready at {tmp_path / 'proj' / '.nbops'}" in result.output
    assert (tmp_path / "proj" / ".nbops" / "config.toml").is_file()
    assert (tmp_path / "proj" / ".nbops" / "catalog.sqlite").is_file()
    assert _invoke("init", "proj").exit_code == 0  # again: harmless


def test_commands_outside_a_workspace_say_how_to_make_one(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = _invoke("runs")
    assert result.exit_code == 2
    assert "no nbops workspace" in result.output and "nbops init" in result.output
    assert not (tmp_path / ".nbops").exists()


def test_runs_lists_filters_sorts_and_limits(recorded: dict[str, str]) -> None:
    result = _invoke("runs")
    assert result.exit_code == 0
    header = result.output.splitlines()[0].split()
    assert header[:2] == ["run_id", "name"] and "param.model" in header and "metric.acc" in header
    assert recorded["forest"] in result.output and recorded["linear"] in result.output

    result = _invoke("runs", "--filter", "metric.acc > 0.9 and param.model = 'rf'")
    assert recorded["forest"] in result.output and recorded["linear"] not in result.output

    result = _invoke("runs", "--sort", "metric.acc", "--asc", "--limit", "1")
    assert recorded["linear"] in result.output and recorded["forest"] not in result.output

    result = _invoke("runs", "--filter", "metric.acc > 2")
    assert result.exit_code == 0 and result.output.strip() == "no runs"


def test_runs_with_a_bad_filter_is_a_short_error(recorded: dict[str, str]) -> None:
    result = _invoke("runs", "--filter", "metric.acc >")
    assert result.exit_code == 1
    assert result.output.startswith("Error: invalid filter") and "Traceback" not in result.output


def test_show(recorded: dict[str, str]) -> None:
    run_id = recorded["forest"]
    result = _invoke("show", run_id[:5])
    assert result.exit_code == 0
    out = result.output
    assert out.startswith(f"run {run_id}  forest  [finished]  by tester")
    assert "param  model = rf" in out
    assert "metric acc = 0.93" in out and "metric loss = 0.25  (2 steps)" in out
    assert "input  dataset train@v1" in out

    missing = _invoke("show", "zzzz")
    assert missing.exit_code == 1 and "no run 'zzzz'" in missing.output


def test_sql(recorded: dict[str, str]) -> None:
    result = _invoke("sql", "SELECT name, version, n_rows FROM v_artifacts ORDER BY run_id",
                     "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output) == [{"name": "train", "version": 1, "n_rows": 10}] * 2

    result = _invoke("sql", "SELECT key, count(*) AS n FROM metrics GROUP BY key ORDER BY key",
                     "--format", "csv")
    assert result.output == "key,n\nacc,2\nloss,4\n"

    bad = _invoke("sql", "SELEC 1")
    assert bad.exit_code == 1 and "the query failed" in bad.output and "Traceback" not in bad.output


def test_doctor_passes_on_a_healthy_workspace(recorded: dict[str, str]) -> None:
    result = _invoke("doctor")
    assert result.exit_code == 0, result.output
    for check in ("workspace", "config", "extension ducklake", "extension sqlite", "catalog",
                  "store", "objects"):
        assert f"[ok  ] {check}:" in result.output
    assert "2 runs" in result.output


def test_doctor_reports_a_corrupted_object(recorded: dict[str, str], workspace_dir: Path) -> None:
    with nbops.open() as ws:
        key = ws.artifact("train")["object_key"]
        path = Path(ws.settings.store_path) / key[:2] / key[2:]
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    result = _invoke("doctor")
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "] objects:" in x)
    assert line.startswith("[FAIL] objects: 1 bad") and key in line and "corrupted" in line


def test_doctor_reports_a_missing_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = _invoke("doctor")
    assert result.exit_code == 1 and "[FAIL] workspace" in result.output


def test_doctor_reports_a_malformed_config(workspace_dir: Path) -> None:
    nbops.open().close()
    (workspace_dir / ".nbops" / "config.toml").write_text("[catalog\n")
    result = _invoke("doctor")
    assert result.exit_code == 1
    assert "[FAIL] config" in result.output and "not valid TOML" in result.output


def test_the_installed_entry_point(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("nbops")
    exe = str(script) if script.exists() else shutil.which("nbops")
    assert exe, "the nbops script is not installed next to the Python running the tests"
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env={**os.environ, "NBOPS_HOME": str(tmp_path / "none")})
    assert proc.returncode == 0, proc.stderr
    for command in ("init", "runs", "show", "sql", "doctor"):
        assert command in proc.stdout
    assert not (tmp_path / "none").exists()  # --help touches no workspace
