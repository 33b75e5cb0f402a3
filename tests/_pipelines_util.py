"""Shared helpers of the pipeline tests: a temporary workspace and tiny notebooks."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

SRC = str(Path(__file__).resolve().parents[1] / "src")


def make_notebook(path: Path, *cells: str, parameters: str | None = None) -> Path:
    """A python3 notebook; ``parameters`` becomes the cell tagged 'parameters'."""
    nb_cells = []
    if parameters is not None:
        nb_cells.append(new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    nb_cells += [new_code_cell(c) for c in cells]
    nb = new_notebook(cells=nb_cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, path)
    return path


@pytest.fixture(name="ws")
def ws_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh workspace in tmp_path; kernels import this checkout's nbops."""
    import nbops

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NBOPS_HOME", str(tmp_path / ".nbops"))
    monkeypatch.delenv("NBOPS_PIPELINE_RUN_ID", raising=False)
    paths = [SRC, *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(dict.fromkeys(paths)))
    workspace = nbops.open(tmp_path)
    yield workspace
    workspace.close()


def pid_gone(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
