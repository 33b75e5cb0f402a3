"""example_notebooks/02_registry_governance.ipynb runs end to end in a real kernel (papermill)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "example_notebooks" / "02_registry_governance.ipynb"


@pytest.mark.slow
def test_registry_governance_notebook_runs(tmp_path, monkeypatch):
    import papermill

    src = str(Path(__file__).resolve().parents[1] / "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("NBOPS_USER", "alice")
    monkeypatch.delenv("NBOPS_HOME", raising=False)
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(out), cwd=str(tmp_path), kernel_name="python3",
                               parameters={"model_name": "churn"}, progress_bar=False,
                               store_widget_state=False)
    assert (tmp_path / "audit-export.jsonl").is_file()
    assert (tmp_path / "cards" / "churn-v2.html").is_file()
    text = out.read_text()
    assert "audit chain intact" in text and "2 unmet requirement(s)" in text
    assert "nbops-dashboard" in text and "Model churn" in text  # show.model's plot, kept as HTML
