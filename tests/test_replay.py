"""nbops replay: an exploratory session in a real IPython shell becomes a pipeline notebook
that a real kernel (papermill, through nbops.pipelines.run) executes and verifies."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

IMPORTS = ("import numpy as np\nimport pandas as pd\n"
           "from sklearn.datasets import make_classification\n"
           "from sklearn.model_selection import train_test_split\n"
           "from sklearn.ensemble import RandomForestClassifier\n"
           "from sklearn.linear_model import LogisticRegression")
DATA = ("%%track -n data\n"
        "X, y = make_classification(n_samples=240, n_features=6, random_state=0)\n"
        "df = pd.DataFrame(X, columns=[f'f{i}' for i in range(6)])\n"
        "df['y'] = y")
SPLIT = ("%%track -n split\n"
         "test_size = 0.25  # held out\n"
         "X_train, X_test, y_train, y_test = train_test_split(\n"
         "    df.drop(columns='y'), df['y'], test_size=test_size, random_state=0)")
TRAIN = ("%%track -n train\n"
         "clf = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=0)\n"
         "clf.fit(X_train, y_train)\n"
         "acc = clf.score(X_test, y_test)")
DEAD = "%%track -n dead\nsummary = df.describe()\nspread = float(df['f0'].std())"
PLOT = ("%%track -n plot\nimport plotly.graph_objects as go\n"
        "fig = go.Figure(go.Histogram(x=df['f0']))")


def params(n: int) -> str:
    return f"%%track -n params\nn_estimators = {n}\nmax_depth = 4"


class Session:
    """A notebook being explored: cells run in a real IPython shell, in any order, and saved."""

    def __init__(self, ip: Any, path: Path) -> None:
        self.ip, self.path = ip, path
        self.cells: dict[str, str] = {}

    def run(self, cell_id: str, source: str) -> None:
        self.cells[cell_id] = source
        result = self.ip.run_cell(source, store_history=True, cell_id=cell_id)
        assert result.success, result.error_in_exec

    def save(self, order: list[str]) -> None:
        import nbformat

        cells = []
        for cell_id in order:
            cell = nbformat.v4.new_code_cell(self.cells[cell_id])
            cell.id = cell_id
            cells.append(cell)
        nbformat.write(nbformat.v4.new_notebook(cells=cells), str(self.path))

    def ws(self) -> Any:
        session = self.ip.magics_manager.registry["NbopsMagics"].session
        session.flush()
        return session.ws


def _shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    if InteractiveShell.initialized():
        return InteractiveShell.instance()
    from IPython.testing.globalipapp import get_ipython

    return get_ipython()


@pytest.fixture
def session(workspace_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    nb = workspace_dir / "explore.ipynb"
    monkeypatch.setenv("NBOPS_NOTEBOOK", str(nb))
    import nbops

    nbops.open().close()
    ip = _shell()
    ip.reset(new_session=False)
    ip.run_line_magic("load_ext", "nbops")
    s = Session(ip, nb)
    yield s
    magics = ip.magics_manager.registry["NbopsMagics"]
    ip.run_line_magic("unload_ext", "nbops")
    if magics.session._ws is not None:
        magics.session._ws.close()
    ip.reset(new_session=False)


def _sources(nb: Any) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def explore(s: Session) -> None:
    """Out of order: the params cell sits at the bottom; it is edited and re-run, then train."""
    s.run("imports", IMPORTS)  # untracked, as import cells usually are
    s.run("data", DATA)
    s.run("split", SPLIT)
    s.run("params", params(10))
    s.run("train", TRAIN)
    s.run("dead", DEAD)
    s.run("plot", PLOT)
    s.run("params", params(30))  # changed the parameter below, then ...
    s.run("train", TRAIN)  # ... re-ran the training cell above it
    s.save(["imports", "data", "split", "train", "dead", "plot", "params"])


def test_exploratory_notebook_replays_to_a_pipeline_that_reproduces_the_model(session: Session) -> None:
    from click.testing import CliRunner

    from nbops.cli import main
    from nbops.pipelines.replay_build import build

    s = session
    explore(s)
    ws = s.ws()
    original = ws.artifact("clf@v2")
    assert '"n_estimators": 30' in original["metadata"]

    plan = build(ws, "clf@v2")
    # only what produced the model, in the order values were produced (params after split);
    # both runs of the params cell: max_depth=4 rebound to an equal value keeps its first producer
    assert [st.name for st in plan.steps] == ["data", "split", "params", "params", "train"]
    assert {r["name"] for r in plan.left_out} == {"dead", "plot"}
    # the lineage knew max_depth came from the params cell's first run, since edited: replayed as it ran
    assert [(h.name, h.reason) for h in plan.hidden] == [("max_depth", "cell-changed")]
    assert plan.missing == [] and plan.ok

    out = s.path.parent / "pipeline.ipynb"
    result = CliRunner().invoke(main, ["replay", "clf@v2", "-o", str(out), "--verify"])
    assert result.exit_code == 0, result.output
    assert "0 different" in result.output and "reproduced" in result.output

    import nbformat

    nb = nbformat.read(str(out), as_version=4)
    code = "\n".join(_sources(nb))
    assert "describe()" not in code and "go.Figure" not in code and "plotly" not in code
    [param_cell] = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert param_cell.source.splitlines()[1:] == [
        "test_size = 0.25  # held out", "max_depth = 4", "n_estimators = 30"]
    assert code.count("n_estimators = ") == 1 and code.count("test_size = ") == 1
    assert "from sklearn.ensemble import RandomForestClassifier" in code
    steps = [c.source for c in nb.cells if "nbops" in c.metadata]
    assert [src.splitlines()[0] for src in steps] == [
        "%%track -n data", "%%track -n split --params test_size", "%%track -n train"]
    assert "train_test_split(\n    df.drop(columns='y')" in steps[1]  # formatting kept
    assert "explore.ipynb" in nb.cells[0].source and "dead" in nb.cells[0].source

    # the pipeline ran in a real kernel: the same model (content, hence version) and metric
    [pipeline_run] = ws.sql("SELECT DISTINCT pipeline_run_id AS p FROM runs "
                            "WHERE pipeline_run_id IS NOT NULL")["p"]
    replayed = ws.runs(f"pipeline_run_id == '{pipeline_run}' and name == 'train'")
    run_id = replayed["run_id"].iloc[0]
    assert ws.artifact(f"{run_id}/clf")["version"] == 2
    before = ws.runs(f"run_id == '{original['run_id']}'")
    assert replayed["metric.acc"].iloc[0] == before["metric.acc"].iloc[0]
    tags = ws.sql("SELECT tags FROM runs WHERE pipeline_run_id = ?", [pipeline_run])["tags"]
    assert not any("hidden_state" in (t or "") for t in tags)  # its steps' lineage is whole
    # what a replay of a pipeline's model reads its parameters from: the executed notebook
    from nbops.pipelines.replay_recover import _executed_literals

    executed = {n: a.text for n, a in _executed_literals(ws, pipeline_run).items()}
    assert executed == {"test_size": "0.25", "max_depth": "4", "n_estimators": "30"}


def test_inputs_from_untracked_cells_are_reported_as_hidden_state(session: Session) -> None:
    from click.testing import CliRunner

    from nbops.cli import main
    from nbops.pipelines.replay_build import build

    s = session
    s.run("imports", IMPORTS)
    s.run("data", DATA.split("\n", 1)[1])  # the same data cell, untracked
    s.run("knob", "C = 0.5\nrounds = 40 * 5")  # untracked too
    s.run("helper", "def features(frame):\n    return frame.drop(columns='y')")
    s.run("fit", "%%track -n fit\n"
                 "model = LogisticRegression(C=C, max_iter=rounds).fit(features(df), df['y'])\n"
                 "train_acc = model.score(features(df), df['y'])")
    s.save(["imports", "data", "knob", "helper", "fit"])
    ws = s.ws()
    plan = build(ws, "model@v1")
    by_name = {h.name: h for h in plan.hidden}
    assert set(by_name) == {"df", "C", "rounds", "features"}
    assert all(h.reason == "untracked" and h.missing for h in plan.hidden)
    assert by_name["df"].snapshot == "df@v1"  # the DataFrame was snapshotted when fit read it
    assert by_name["C"].value == "0.5"  # only the saved notebook has it
    assert by_name["features"].code == "def features(frame):\n    return frame.drop(columns='y')"
    assert (by_name["rounds"].snapshot, by_name["rounds"].value, by_name["rounds"].code) == (None,) * 3
    assert not plan.ok
    from nbops.registry import register

    register("model@v1", "churn", ws=ws)  # a registered version, and the run itself, lead there too
    assert build(ws, "churn@v1").target.run_id == plan.target.run_id
    assert [st.run_id for st in build(ws, plan.target.run_id).steps] == [plan.target.run_id]

    out = s.path.parent / "fit.ipynb"
    result = CliRunner().invoke(main, ["replay", "model@v1", "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert "df (read by run" in result.output and "missing input" in result.output
    text = "\n".join("".join(c["source"]) for c in json.loads(out.read_text())["cells"])
    assert "HIDDEN STATE: df was made by an untracked cell" in text and "_ws.load('df@v1')" in text
    assert "MISSING INPUT: rounds" in text and "MISSING INPUT: C" not in text
    assert "HIDDEN STATE: features was defined in an untracked cell" in text
    assert "C = 0.5  # ⚠ hidden state: an untracked cell of the saved notebook" in text


def test_parameters_are_cut_from_cells_on_the_ast() -> None:
    from nbops.pipelines import replay_source as src

    cell = ('lr = 0.1  # learning rate\n'
            'tag = "a # b"\n'
            'steps = [\n    1,\n    2,\n]\n'
            'def f(lr=lr):\n    lr = 2\n    return lr\n'
            'model = fit(lr, steps)  # keeps its comment\n')
    found = {a.name: a for a in src.literal_assignments(cell)}
    assert set(found) == {"lr", "tag", "steps"}
    assert (found["lr"].comment, found["tag"].comment, found["steps"].text) == (
        "learning rate", None, "[\n    1,\n    2,\n]")
    assert src.bindings(cell)["lr"] == 1  # the function's own lr is not the notebook's
    body = src.remove_statements(cell, {a.index for a in found.values()})
    assert body == ('def f(lr=lr):\n    lr = 2\n    return lr\n'
                    'model = fit(lr, steps)  # keeps its comment\n')
    # a statement sharing its line with another: the cell is re-emitted from the AST
    assert src.remove_statements("k = 3; fit(k)\n", {0}) == "fit(k)\n"
    assert src.imports_by_name(["%matplotlib inline\nimport numpy as np, pandas as pd\n"
                                "from sklearn import svm as s"]) == {
        "np": "import numpy as np", "pd": "import pandas as pd", "s": "from sklearn import svm as s"}
