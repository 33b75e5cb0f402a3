"""example_notebooks/03_retraining_pipeline.ipynb runs under `nbops run` and attaches its run."""

from __future__ import annotations

from pathlib import Path

from _pipelines_util import ws_fixture  # noqa: F401
from click.testing import CliRunner

from nbops.cli import main

NOTEBOOK = Path(__file__).resolve().parents[1] / "example_notebooks" / "03_retraining_pipeline.ipynb"


def test_retraining_notebook_runs_as_a_pipeline(ws, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["run", str(NOTEBOOK), "-q", "--cwd", str(tmp_path),
                                    "-p", "n_estimators", "15", "-p", "data_fraction", "0.6"])
    assert res.exit_code == 0, res.output
    pipeline_run_id = res.output.strip().splitlines()[-1]
    runs = ws.runs()
    assert runs["pipeline_run_id"].tolist() == [pipeline_run_id]
    assert runs["param.n_estimators"].tolist() == [15]
    assert runs["param.data_fraction"].tolist() == [0.6]
    assert runs["metric.accuracy"].iloc[0] > 0.8
    assert ws.load("cancer-rf").n_estimators == 15
