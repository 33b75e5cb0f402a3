"""%%track and %nbops in a real IPython shell (one per process)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest


def _shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    if InteractiveShell.initialized():
        return InteractiveShell.instance()
    from IPython.testing.globalipapp import get_ipython

    return get_ipython()


class Cells:
    """Runs cells as a frontend would (with store_history and a cell id)."""

    def __init__(self, ip: Any) -> None:
        self.ip = ip

    def __call__(self, source: str, cell_id: str | None = None) -> Any:
        return self.ip.run_cell(source, store_history=True, cell_id=cell_id)

    @property
    def magics(self) -> Any:
        return self.ip.magics_manager.registry["NbopsMagics"]

    @property
    def ns(self) -> dict[str, Any]:
        return self.ip.user_ns

    def ws(self) -> Any:
        self.magics.session.flush()  # commits run in the background
        return self.magics.session.ws


@pytest.fixture
def cells(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cells]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NBOPS_HOME", str(tmp_path))
    monkeypatch.delenv("NBOPS_NOTEBOOK", raising=False)
    ip = _shell()
    ip.reset(new_session=False)
    ip.run_line_magic("load_ext", "nbops")
    c = Cells(ip)
    c("import numpy as np\nimport pandas as pd")
    yield c
    session = c.magics.session
    ip.run_line_magic("unload_ext", "nbops")
    if session._ws is not None:
        session._ws.close()
    ip.reset(new_session=False)


def test_cell_output_params_metrics_and_summary(cells: Cells, capsys: pytest.CaptureFixture[str]) -> None:
    r = cells("%%track -n fit\nC = 0.5\nacc = 0.25 * 3\nacc * 2")
    assert r.success and r.result == 1.5
    out = capsys.readouterr().out
    assert "tracked run" in out and "acc=0.75" in out and "C=0.5" in out
    runs = cells.ws().runs()
    assert runs.loc[0, "name"] == "fit"
    assert runs.loc[0, "param.C"] == 0.5 and runs.loc[0, "metric.acc"] == 0.75


def test_error_fails_the_cell_and_the_run_is_recorded_failed(cells: Cells) -> None:
    r = cells("%%track -n boom\npartial = 41\nraise ValueError('bad input')")
    assert not r.success and isinstance(r.error_in_exec, ValueError)
    runs = cells.ws().runs()
    assert runs.loc[0, "status"] == "failed"
    details = cells.ws().run_details(runs.loc[0, "run_id"])
    assert "ValueError: bad input" in details["run"]["error"]
    assert cells.ns["partial"] == 41


def test_in_place_mutation_is_a_change(cells: Cells) -> None:
    cells("%%track -n load\ndf = pd.DataFrame({'a': [1.0, 2.0, 3.0]})")
    cells("%%track -n edit\ndf.loc[df.a > 1, 'a'] = 0.0")
    summary = cells.magics.session.last
    assert summary.changed == ["df"]
    arts = cells.ws().sql("SELECT name, role FROM artifacts WHERE run_id = ?", [summary.run_id])
    assert set(map(tuple, arts.values.tolist())) == {("df", "input"), ("df", "output")}
    cells("%%track -n look\nm = df.a.mean()")
    assert cells.magics.session.last.changed == []


def test_value_over_the_size_limit_is_recorded_as_skipped(cells: Cells, tmp_path: Path) -> None:
    cfg = tmp_path / ".nbops" / "config.toml"
    cells.ws()  # creates the workspace
    cells.magics.session._ws.close()
    cfg.write_text(cfg.read_text().replace("max_object_mb = 2048", "max_object_mb = 0.01"))
    cells.magics.session._ws = None
    cells("%%track -n big\nbig = np.zeros((100_000, 2))\nsmall = np.zeros(3)")
    s = cells.magics.session.last
    assert [name for name, _ in s.skipped] == ["big"]
    arts = cells.ws().sql("SELECT name, skipped_reason, object_key FROM artifacts ORDER BY name")
    big = arts[arts.name == "big"].iloc[0]
    assert "over the 0.01 MB limit" in big.skipped_reason and pd.isna(big.object_key)
    assert not pd.isna(arts[arts.name == "small"].iloc[0].object_key)


def test_hidden_state_untracked_cell(cells: Cells) -> None:
    cells("raw = pd.DataFrame({'x': [1, 2]})", "c1")
    cells("%%track\ntotal = raw.x.sum()", "c2")
    [flag] = cells.magics.session.last.hidden
    assert flag.name == "raw" and flag.reason == "untracked"


def test_hidden_state_untracked_in_place_change(cells: Cells) -> None:
    cells("%%track\nraw = pd.DataFrame({'x': [1, 2]})", "c1")
    cells("raw.loc[0, 'x'] = 100", "c2")
    cells("%%track\ntotal = raw.x.sum()", "c3")
    [flag] = cells.magics.session.last.hidden
    assert flag.reason == "untracked" and "changed by an untracked cell" in flag.detail


def test_hidden_state_cell_changed(cells: Cells, capsys: pytest.CaptureFixture[str]) -> None:
    cells("%%track\nthreshold = 0.5", "c1")
    cells("%%track\nrate = 2", "c1")  # same cell, new code: threshold's maker is gone
    cells("%%track\nscaled = threshold * 10", "c2")
    [flag] = cells.magics.session.last.hidden
    assert flag.name == "threshold" and flag.reason == "cell-changed"
    assert "hidden state: threshold" in capsys.readouterr().out
    runs = cells.ws().runs()
    row = cells.ws().run_details(runs.loc[0, "run_id"])["run"]
    assert "threshold" in json.loads(row["tags"])["hidden_state"]


def test_hidden_state_cell_deleted(cells: Cells, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = tmp_path / "analysis.ipynb"
    monkeypatch.setenv("NBOPS_NOTEBOOK", str(nb))

    def save(cell_ids: list[str]) -> None:
        cell_list = [{"id": i, "cell_type": "code", "source": "", "metadata": {}, "outputs": [],
                      "execution_count": None} for i in cell_ids]
        nb.write_text(json.dumps({"cells": cell_list, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))

    save(["a", "b"])
    cells("%%track\nfeatures = ['x', 'y']", "a")
    cells("%%track\nn = len(features)", "b")
    assert cells.magics.session.last.hidden == []
    save(["b"])  # the user deleted cell a and saved
    cells("%%track\nn = len(features)", "b")
    [flag] = cells.magics.session.last.hidden
    assert flag.reason == "cell-deleted" and flag.name == "features"


def test_checkout_returns_the_tracked_object(cells: Cells) -> None:
    cells("%%track -n v1\ndf = pd.DataFrame({'a': [1, 2, 3], 's': ['x', 'y', 'z']})")
    cells("%%track -n v2\ndf = df.assign(a=df.a * 10)")
    cells("%nbops checkout df@v1 as old")
    pd.testing.assert_frame_equal(cells.ns["old"], pd.DataFrame({"a": [1, 2, 3], "s": ["x", "y", "z"]}))
    cells("%%track -n model\nfrom sklearn.linear_model import LogisticRegression\n"
          "clf = LogisticRegression().fit(df[['a']], [0, 1, 1])")
    original = cells.ns["clf"]
    cells("%nbops checkout clf as clf2")
    got = cells.ns["clf2"]
    assert got.get_params() == original.get_params()
    assert (got.coef_ == original.coef_).all() and (got.intercept_ == original.intercept_).all()


def test_diff_shows_code_params_metrics_data_and_hyperparameters(
        cells: Cells, capsys: pytest.CaptureFixture[str]) -> None:
    cells("%%track -n a\nfrom sklearn.linear_model import LogisticRegression\nC = 1.0\n"
          "X = pd.DataFrame({'f': [0.0, 1.0, 2.0, 3.0]})\n"
          "clf = LogisticRegression(C=C).fit(X, [0, 0, 1, 1])\nacc = clf.score(X, [0, 0, 1, 1])")
    a = cells.magics.session.last.run_id
    cells("%%track -n b\nfrom sklearn.linear_model import LogisticRegression\nC = 0.01\n"
          "X = pd.DataFrame({'f': [0.0, 1.0, 2.0, 5.0], 'g': [1, 1, 1, 1]})\n"
          "clf = LogisticRegression(C=C).fit(X, [0, 1, 1, 1])\nacc = clf.score(X, [0, 0, 1, 1])")
    b = cells.magics.session.last.run_id
    capsys.readouterr()
    cells(f"%nbops diff {a} {b}")
    out = capsys.readouterr().out
    assert "-C = 1.0" in out and "+C = 0.01" in out
    assert "C: 1.0 → 0.01" in out
    assert "acc:" in out
    assert "output X" in out and "g" in out
    assert "hyperparameters" in out and "C: 1.0 → 0.01" in out


def test_log_metric_per_step_inside_the_cell(cells: Cells) -> None:
    cells("%%track -n loop\nimport nbops\nfor epoch in range(4):\n    nbops.log_metric('loss', 1 / (epoch + 1))")
    hist = cells.ws().runs_repo.metric_history(cells.magics.session.last.run_id)
    assert hist["step"].tolist() == [0, 1, 2, 3]


def test_nbops_failure_never_breaks_the_cell(cells: Cells, capsys: pytest.CaptureFixture[str]) -> None:
    class Broken:
        @property
        def settings(self) -> Any:
            raise RuntimeError("catalog busy")

    def boom() -> Any:
        raise RuntimeError("catalog is locked")

    cells.magics.session._ws = None
    cells.magics.session._opener = boom
    r = cells("%%track\nvalue = 6 * 7\nvalue")
    assert r.success and r.result == 42 and cells.ns["value"] == 42
    assert "run not recorded" in capsys.readouterr().out


def test_unstorable_value_is_skipped_and_the_rest_is_recorded(cells: Cells) -> None:
    cells("%%track -n odd\nclass Net:\n    def fit(self, X):\n        self.w_ = 1\n        return self\n"
          "    def get_params(self, deep=True):\n        return {}\nnet = Net().fit(None)\nscore = 0.25 * 2")
    s = cells.magics.session.last
    assert s.saved and s.metrics == {"score": 0.5}
    assert [n for n, _ in s.skipped] == ["net"]


def test_lineage_and_status(cells: Cells, capsys: pytest.CaptureFixture[str]) -> None:
    cells("%%track -n load\ndf = pd.DataFrame({'a': [0.0, 1.0, 2.0, 3.0], 'y': [0, 0, 1, 1]})", "c1")
    cells("%%track -n train\nfrom sklearn.linear_model import LogisticRegression\n"
          "clf = LogisticRegression().fit(df[['a']], df.y)", "c2")
    capsys.readouterr()
    cells("%nbops lineage clf")
    out = capsys.readouterr().out
    assert out.index("train") < out.index("load")
    assert "df from run" in out
    cells("%nbops lineage clf@v1")
    assert "clf@v1 (model)" in capsys.readouterr().out
    cells("%nbops status")
    assert "clf" in capsys.readouterr().out


def test_restore_loads_every_output(cells: Cells) -> None:
    cells("%%track -n two\na = np.arange(5)\nb = pd.Series([1.5, 2.5], name='b')")
    run_id = cells.magics.session.last.run_id
    cells("del a, b")
    cells(f"%nbops restore {run_id}")
    assert cells.ns["a"].tolist() == [0, 1, 2, 3, 4] and cells.ns["b"].tolist() == [1.5, 2.5]


def test_autotrack_records_every_cell(cells: Cells) -> None:
    cells("%nbops autotrack on")
    cells("base = pd.DataFrame({'v': [1, 2]})", "c1")
    r = cells("doubled = base.v * 2\nint(doubled.sum())", "c2")
    assert r.result == 6
    assert cells.magics.session.last.reads == [("base", (2, 1))]
    assert cells.magics.session.last.hidden == []
    cells("%nbops autotrack off")
    before = len(cells.ws().runs())
    cells("z = 1")
    assert len(cells.ws().runs()) == before


def test_await_functions_classes_comprehensions_shell_and_magics(cells: Cells) -> None:
    body = (
        "import asyncio\n"
        "await asyncio.sleep(0)\n"
        "def sq(v):\n    return v * v\n"
        "class Box:\n    def __init__(self, v):\n        self.v = v\n"
        "vals = [sq(i) for i in range(4)]\n"
        "boxes = {i: Box(i).v for i in vals}\n"
        "echo = !echo hi\n"
        "%env NBOPS_TEST_VAR=1\n"
        "(vals, sorted(boxes), list(echo))"
    )
    plain = cells(body)
    tracked = cells("%%track -n mixed\n" + body)
    assert tracked.success and tracked.result == plain.result == ([0, 1, 4, 9], [0, 1, 4, 9], ["hi"])
    assert cells.magics.session.last.saved


def test_registry_magics_register_promote_rollback_and_audit(
        cells: Cells, capsys: pytest.CaptureFixture[str]) -> None:
    cells("%%track -q\nfrom sklearn.linear_model import LogisticRegression\n"
          "X = np.arange(20.0).reshape(10, 2)\ny = np.arange(10) % 2\n"
          "clf = LogisticRegression().fit(X, y)")
    cells("%nbops register clf churn")
    cells("clf2 = LogisticRegression(C=0.5).fit(X, y)")
    cells("%nbops register clf2 churn")
    cells("%nbops promote churn 1 production first")
    cells("%nbops promote churn 2 production better")
    cells("%nbops rollback churn production worse in shadow")
    models = cells("_m = %nbops models churn\n_m").result
    assert list(models["version"]) == [1, 2]
    from nbops import registry

    assert registry.resolve("churn@production", ws=cells.ws()).version == 1
    refused = cells("%nbops promote churn 7 production")
    assert refused.error_in_exec is not None and "no version 7" in str(refused.error_in_exec)
    cells("%nbops audit verify")
    out = capsys.readouterr().out
    assert "churn@production → v2" in out and "rolled back to v1" in out
    assert "audit chain intact: 5 entries" in out


def test_a_snapshot_is_the_value_at_the_end_of_its_cell_even_if_changed_right_after(
        cells: Cells) -> None:
    from sklearn.linear_model import LinearRegression  # noqa: F401  (warm import outside the cell)

    cells("%%track -q -n make\ndf = pd.DataFrame({'a': np.arange(5.0)})\n"
          "from sklearn.linear_model import LinearRegression\n"
          "reg = LinearRegression().fit(df[['a']], df['a'])")
    run_id = cells.magics.session.run_ids[-1]
    # Changed in place by the next cell, possibly before the tracked cell's commit ran.
    cells("df.loc[0, 'a'] = 99.0\nreg.fit(df[['a']] * 2, df['a'])")
    ws = cells.ws()
    assert ws.load(f"{run_id}/df")["a"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert ws.load(f"{run_id}/reg").coef_[0] == pytest.approx(1.0)


def test_trace_of_a_prediction_shows_the_tracked_training_cell(
        cells: Cells, capsys: pytest.CaptureFixture[str]) -> None:
    cells("from sklearn.tree import DecisionTreeClassifier\n"
          "X = pd.DataFrame({'a': np.arange(40.0), 'b': np.arange(40.0) % 3})\ny = (X.a > 20).astype(int)")
    assert cells("%%track -n fit\ndepth = 2\nclf = DecisionTreeClassifier(max_depth=depth).fit(X, y)").success
    cells.ws()
    run = cells("%nbops register clf churn")
    assert run.success
    cells("import nbops.monitor\n"
          "rid = nbops.monitor.log_predictions('churn@latest', X.head(1), clf.predict(X.head(1)))[0]\n"
          "nbops.monitor.flush()")
    capsys.readouterr()
    assert cells(f"%nbops trace {cells.ns['rid']}").success
    out = capsys.readouterr().out
    assert "model version churn@v1" in out and "max_depth=depth" in out  # the cell's own code
    assert "⚠ read X: hidden state (untracked)" in out and "data X (not written by a tracked run)" in out


def test_nbops_track_block_inside_a_notebook_cell_records_its_code_params_and_metrics(cells: Cells) -> None:
    r = cells("import nbops\nwith nbops.track('blk', quiet=True):\n    alpha = 0.5\n    score = alpha * 3\nscore")
    assert r.success and r.result == 1.5
    runs = cells.ws().runs()
    assert runs.loc[0, "name"] == "blk"
    assert runs.loc[0, "param.alpha"] == 0.5 and runs.loc[0, "metric.score"] == 1.5
    code = cells.ws().run_details(runs.loc[0, "run_id"])["run"]["code"]
    assert code.strip() == "alpha = 0.5\nscore = alpha * 3"
