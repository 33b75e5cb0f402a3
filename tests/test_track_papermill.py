"""%%track notebooks executed by papermill on a real kernel."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

BODIES = [
    "import asyncio\nimport pandas as pd\nimport numpy as np",
    "df = pd.DataFrame({'a': np.arange(6.0), 'b': list('xyzxyz')})\nlr = 0.1\ndf.shape",
    "def scale(s, k=2):\n    return s * k\n"
    "class Summ:\n    def __init__(self, frame):\n        self.n = len(frame)\n"
    "squares = [scale(v) for v in df.a if v > 1]\n"
    "counts = {k: int(v) for k, v in df.b.value_counts().items()}\n"
    "print(Summ(df).n, squares, sorted(counts.items()))",
    "out = !echo from-shell\n%env NBOPS_NB_VAR=7\nprint(out[0])",
    "await asyncio.sleep(0)\nres = await asyncio.gather(*(asyncio.sleep(0, result=i) for i in range(3)))\nres",
    "df.loc[df.a > 3, 'a'] = -1.0\nfloat(df.a.sum())",
]


def _notebook(path: Path, bodies: list[str], tracked: bool) -> None:
    import nbformat

    cells = [nbformat.v4.new_code_cell("%load_ext nbops")]
    cells += [nbformat.v4.new_code_cell(("%%track -q\n" if tracked else "") + b) for b in bodies]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)


def _execute(path: Path, out: Path, cwd: Path) -> Any:
    import papermill as pm

    return pm.execute_notebook(str(path), str(out), kernel_name="python3", cwd=str(cwd),
                               progress_bar=False)


def _outputs(nb: Any) -> list[list[Any]]:
    result = []
    for cell in nb.cells[1:]:
        result.append([(o.get("output_type"), o.get("text"), dict(o.get("data", {})))
                       for o in cell.outputs])
    return result


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NBOPS_HOME", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.chdir(tmp_path)
    import nbops

    nbops.open().close()  # an existing workspace: the kernel prints no "created" notice
    return tmp_path


def test_tracked_notebook_behaves_exactly_as_untracked(env: Path) -> None:
    _notebook(env / "plain.ipynb", BODIES, tracked=False)
    _notebook(env / "tracked.ipynb", BODIES, tracked=True)
    plain = _execute(env / "plain.ipynb", env / "plain.out.ipynb", env)
    tracked = _execute(env / "tracked.ipynb", env / "tracked.out.ipynb", env)
    assert _outputs(tracked) == _outputs(plain)
    import nbops

    with nbops.open() as ws:
        runs = ws.runs()
        assert len(runs) == len(BODIES) and set(runs["status"]) == {"finished"}
        mutated = ws.sql("SELECT count(*) AS n FROM artifacts WHERE name = 'df' AND role = 'output'")
        assert mutated.n[0] == 2  # created, then changed in place


def test_error_in_a_tracked_cell_fails_at_that_cell(env: Path) -> None:
    import papermill as pm

    bodies = ["x = 1", "y = x + 1\nraise RuntimeError('stop here')", "z = 3"]
    _notebook(env / "err.ipynb", bodies, tracked=True)
    with pytest.raises(pm.PapermillExecutionError) as info:
        _execute(env / "err.ipynb", env / "err.out.ipynb", env)
    assert info.value.ename == "RuntimeError" and info.value.cell_index == 2
    import nbops

    with nbops.open() as ws:
        runs = ws.runs(sort="started_at", ascending=True)
        assert runs["status"].tolist() == ["finished", "failed"]


def test_example_notebook_runs(env: Path) -> None:
    import nbformat
    import papermill as pm

    src = ROOT / "example_notebooks" / "01_tracking.ipynb"
    pm.execute_notebook(str(src), str(env / "01.out.ipynb"), kernel_name="python3", cwd=str(env),
                        progress_bar=False, store_widget_state=False)
    nb = nbformat.read(env / "01.out.ipynb", as_version=4)
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "tracked run" in text and "hyperparameters" in text and "checked out" in text
    html = "\n".join(o.get("data", {}).get("text/html", "") for c in nb.cells for o in c.get("outputs", []))
    assert html.count("class='nbops-dashboard'") == 2  # show.runs and show.compare, kept as HTML
    assert "Metrics over runs" in html
