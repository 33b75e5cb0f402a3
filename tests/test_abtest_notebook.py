"""example_notebooks/05_ab_test.ipynb runs end to end in a real kernel (papermill)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "example_notebooks" / "05_ab_test.ipynb"


@pytest.mark.slow
def test_ab_test_notebook_finds_the_true_winner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill

    src = str(Path(__file__).resolve().parents[1] / "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("NBOPS_USER", "alice")
    monkeypatch.delenv("NBOPS_HOME", raising=False)
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(out), cwd=str(tmp_path), kernel_name="python3",
                               parameters={"seed": 42}, progress_bar=False, store_widget_state=False)
    text = out.read_text()
    assert "winner: treatment" in text
    assert "SRM check: p=" in text and "P(better)=" in text
    assert "ab.conclude" in text
    assert "Experiment churn-retention" in text and "Cumulative lift with its confidence sequence" in text
