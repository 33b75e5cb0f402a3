"""The Python API: recording runs, querying them, loading artifacts back, refusing bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbops
from nbops.errors import (
    CatalogError,
    CatalogTooNew,
    InvalidName,
    NbopsError,
    NotFound,
    ObjectMissing,
)
from nbops.workspace import Workspace


def _record(ws: Workspace, name: str, model: str, acc: float, losses: list[float]) -> str:
    with ws.run(name=name) as run:
        run.log_params({"model": model, "depth": len(losses)})
        for loss in losses:
            run.log_metric("loss", loss)
        run.log_metric("acc", acc)
    return run.run_id


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, dict[str, str]]]:
    """One workspace with four runs, shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("recorded")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NBOPS_USER", "tester")
        ws = nbops.open(root)
        ids = {name: _record(ws, name, model, acc, losses) for name, model, acc, losses in [
            ("a", "rf", 0.95, [0.9, 0.5, 0.2]), ("b", "lr", 0.85, [0.7]),
            ("c", "rf", 0.88, [0.8, 0.6]), ("d", "gb", 0.97, [0.6, 0.4, 0.3, 0.1])]}
    yield ws, ids
    ws.close()


@pytest.fixture
def shared(recorded: tuple[Workspace, dict[str, str]]) -> Workspace:
    return recorded[0]


@pytest.fixture
def four_runs(recorded: tuple[Workspace, dict[str, str]]) -> dict[str, str]:
    return recorded[1]


def test_runs_frame_has_params_and_metrics_as_columns(shared: Workspace,
                                                      four_runs: dict[str, str]) -> None:
    df = shared.runs()
    assert len(df) == 4 and set(df["run_id"]) == set(four_runs.values())
    assert {"run_id", "name", "status", "user_name", "started_at", "duration_ms",
            "param.model", "param.depth", "metric.acc", "metric.loss"} <= set(df.columns)
    row = df.set_index("name").loc["d"]
    assert row["param.model"] == "gb" and row["param.depth"] == 4
    assert row["metric.acc"] == 0.97 and row["metric.loss"] == 0.1  # the last step's value
    assert row["status"] == "finished" and row["user_name"] == "tester"
    assert df["param.depth"].dtype.kind == "i"
    assert df["name"].tolist() == ["d", "c", "b", "a"]  # newest first


def test_metric_steps_are_kept(workspace: Workspace) -> None:
    run_id = _record(workspace, "a", "rf", 0.95, [0.9, 0.5, 0.2])
    history = workspace.run_details(run_id)["metrics"]
    loss = history[history["key"] == "loss"]
    assert loss["step"].tolist() == [0, 1, 2] and loss["value"].tolist() == [0.9, 0.5, 0.2]
    with workspace.run() as run:
        run.log_metric("x", 1.0, step=10)
        run.log_metric("x", 2.0)  # continues after the highest step given
        run.log_metrics({"x": 3.0, "y": 4.0}, step=20)
    steps = workspace.run_details(run.run_id)["metrics"]
    assert steps[steps["key"] == "x"]["step"].tolist() == [10, 11, 20]


@pytest.mark.parametrize("expr, names", [
    ("metric.acc > 0.9", {"a", "d"}),
    ("metrics.acc > 0.9 and params.model = 'rf'", {"a"}),
    ("METRICS.acc > 0.9 AND params.model = 'rf'".replace("METRICS", "metrics"), {"a"}),
    ("param.model == 'rf' or metric.acc < 0.86", {"a", "b", "c"}),
    ("param.depth >= 3", {"a", "d"}),
    ("metric.never_logged > 0", set()),
])
def test_filter(shared: Workspace, four_runs: dict[str, str], expr: str, names: set[str]) -> None:
    assert set(shared.runs(expr)["name"]) == names


def test_sort_by_metric_and_limit(shared: Workspace, four_runs: dict[str, str]) -> None:
    assert shared.runs(sort="metric.acc", limit=2)["name"].tolist() == ["d", "a"]
    assert shared.runs(sort="metrics.acc", ascending=True)["name"].tolist() == ["b", "c", "a", "d"]
    assert shared.runs(limit=1)["name"].tolist() == ["d"]
    assert shared.runs("param.model = 'rf'", sort="metric.acc", limit=1)["name"].tolist() == ["a"]


@pytest.mark.parametrize("kwargs, words", [
    ({"filter": "metric.acc >"}, "invalid filter"),
    ({"filter": "param.model == rf"}, "invalid filter"),
    ({"sort": "bogus"}, "cannot sort by 'bogus'"),
    ({"sort": "metric.nope"}, "cannot sort by 'metric.nope'"),
])
def test_bad_queries_say_what_is_wrong(shared: Workspace, kwargs: dict[str, str], words: str) -> None:
    with pytest.raises(NbopsError, match=words):
        shared.runs(**kwargs)


def test_an_empty_workspace_lists_no_runs(workspace: Workspace) -> None:
    assert workspace.runs("metric.acc > 0.5", sort="metric.acc").empty


def test_load_versions_and_run_references(workspace: Workspace) -> None:
    v1 = pd.DataFrame({"x": [1, 2, 3]})
    v2 = pd.DataFrame({"x": [1, 2, 3, 4]})
    ids = []
    for df in (v1, v2, v1.copy()):
        with workspace.run() as run:
            run.log_dataset(df, "train")
        ids.append(run.run_id)
    pd.testing.assert_frame_equal(workspace.load("train@v1"), v1)
    pd.testing.assert_frame_equal(workspace.load("train@v2"), v2)
    pd.testing.assert_frame_equal(workspace.load("train"), v2)  # the highest version
    pd.testing.assert_frame_equal(workspace.load("train@latest"), v2)
    pd.testing.assert_frame_equal(workspace.load(f"{ids[2]}/train"), v1)  # what that run wrote
    pd.testing.assert_frame_equal(workspace.load(f"{ids[1][:6]}/train"), v2)  # an id prefix works
    assert workspace.artifact(f"{ids[2]}/train")["version"] == 1  # same content, same version
    with pytest.raises(NotFound, match="train@v3"):
        workspace.load("train@v3")
    with pytest.raises(NotFound, match="no run"):
        workspace.load("ffffffffffff/train")
    with pytest.raises(NotFound):
        workspace.load("test")


def test_models_and_files_come_back(workspace: Workspace, tmp_path: Path) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = np.arange(40).reshape(20, 2), np.arange(20) % 2
    clf = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    report = tmp_path / "report.html"
    report.write_text("<h1>ok</h1>")
    spaced = tmp_path / "final report (v2).txt"
    spaced.write_text("done")
    with workspace.run() as run:
        run.log_model(clf, "tree")
        run.log_artifact(report)
        run.log_artifact(spaced)  # a file name that is no valid artifact name is cleaned up
    np.testing.assert_array_equal(workspace.load("tree").predict(X), clf.predict(X))
    assert workspace.load("report.html") == b"<h1>ok</h1>"
    assert workspace.load("final_report_v2_.txt") == b"done"
    row = workspace.artifact("tree")
    assert row["kind"] == "model" and '"max_depth": 2' in row["metadata"]


def test_a_failing_body_is_recorded_as_failed_and_the_error_propagates(workspace: Workspace) -> None:
    with pytest.raises(ZeroDivisionError):
        with workspace.run(name="broken") as run:
            run.log_param("lr", 0.1)
            run.log_metric("loss", 3.0)
            1 / 0  # noqa: B018
    details = workspace.run_details(run.run_id)
    assert details["run"]["status"] == "failed"
    assert details["run"]["error"] == "ZeroDivisionError: division by zero"
    assert details["params"]["value"].tolist() == ["0.1"]  # what it recorded is kept
    assert workspace.runs("status == 'failed'")["name"].tolist() == ["broken"]


def test_a_failing_body_keeps_its_own_error_when_the_catalog_fails_too(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(batch: object) -> None:
        raise CatalogError("catalog write failed: disk full")

    monkeypatch.setattr(workspace.runs_repo, "save", refuse)
    with pytest.warns(UserWarning, match="was not recorded: catalog write failed: disk full"):
        with pytest.raises(KeyError, match="missing"):
            with workspace.run(name="doomed"):
                {}["missing"]  # noqa: B018


def test_the_active_run_is_a_context_variable(workspace: Workspace) -> None:
    with pytest.raises(NbopsError, match="no active run"):
        nbops.log_metric("acc", 1.0)
    with workspace.run(name="outer") as outer:
        nbops.log_param("where", "outer")
        with workspace.run(name="inner") as inner:
            assert nbops.active_run() is inner
            nbops.log_metric("acc", 0.5)
            nbops.log_params({"where": "inner"})
        assert nbops.active_run() is outer
        nbops.log_metrics({"acc": 0.7})
    with pytest.raises(NbopsError):
        nbops.log_param("late", 1)
    df = workspace.runs().set_index("name")
    assert df.loc["inner", "metric.acc"] == 0.5 and df.loc["outer", "metric.acc"] == 0.7
    assert df.loc["inner", "param.where"] == "inner" and df.loc["outer", "param.where"] == "outer"


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".hidden", "", "x" * 129, "a b", "nul\x00"])
def test_invalid_artifact_names_are_refused(workspace: Workspace, tmp_path: Path, name: str) -> None:
    f = tmp_path / "f.txt"
    f.write_text("x")
    with workspace.run() as run:
        with pytest.raises(InvalidName):
            run.log_dataset(pd.DataFrame({"a": [1]}), name)
        if name:  # an empty name means the file's own name
            with pytest.raises(InvalidName):
                run.log_artifact(f, name=name)
    assert not list(Path(workspace.settings.store_path).rglob("*"))  # nothing was stored


@pytest.mark.parametrize("key", ["", "../secret", "a\nb", "x" * 251, "-lead"])
def test_invalid_param_and_metric_names_are_refused(workspace: Workspace, key: str) -> None:
    with workspace.run() as run:
        with pytest.raises(InvalidName):
            run.log_param(key, 1)
        with pytest.raises(InvalidName):
            run.log_metric(key, 1.0)
        with pytest.raises(NbopsError, match="must be a number"):
            run.log_metric("ok", "high")
        run.log_param("fine/key: 1", 1)
    assert workspace.runs()["param.fine/key: 1"].tolist() == [1]


def test_path_traversal_in_a_reference_is_refused(workspace: Workspace) -> None:
    with pytest.raises(InvalidName):
        workspace.load("run/../../etc/passwd")
    with pytest.raises(NbopsError):
        workspace.load("../x")


def test_values_over_the_size_limit_are_skipped_with_a_reason(workspace_dir: Path,
                                                               tmp_path: Path) -> None:
    home = workspace_dir / ".nbops"
    nbops.open().close()
    cfg = (home / "config.toml").read_text().replace("max_object_mb = 2048", "max_object_mb = 0.01")
    (home / "config.toml").write_text(cfg)
    big = pd.DataFrame({"a": np.arange(100_000)})  # 800 kB, over the 10 kB limit
    big_file = tmp_path / "big.bin"
    big_file.write_bytes(b"\0" * 20_000)
    with nbops.open() as ws:
        with ws.run(name="limited") as run:
            run.log_param("n", 1)
            run.log_dataset(big, "big")
            run.log_artifact(big_file)
            run.log_dataset(pd.DataFrame({"a": [1, 2]}), "small")
        rows = ws.sql("SELECT name, object_key, skipped_reason FROM artifacts ORDER BY name")
        skipped = rows.set_index("name")["skipped_reason"]
        assert "over the" in skipped["big"] and "max_object_mb" in skipped["big"]
        assert "over the" in skipped["big.bin"]
        assert pd.isna(skipped["small"]) and len(ws.load("small")) == 2
        assert dict(run.skipped).keys() == {"big", "big.bin"}
        with pytest.raises(NotFound):
            ws.load("big")
        assert ws.runs()["param.n"].tolist() == [1]  # the rest of the run is kept


def test_unsupported_objects_are_skipped_with_a_reason(workspace: Workspace) -> None:
    with workspace.run(name="odd") as run:
        run.log_value(lambda x: x, "fn")
        run.log_model(object(), "not_a_model")
        run.log_metric("acc", 0.5)
    rows = workspace.sql("SELECT name, kind, object_key, skipped_reason FROM artifacts ORDER BY name")
    assert rows["name"].tolist() == ["fn", "not_a_model"]
    assert rows["object_key"].isna().all()
    assert all("cannot store" in r and "trust=True" in r for r in rows["skipped_reason"])
    assert workspace.runs()["metric.acc"].tolist() == [0.5]


def test_relogging_an_unchanged_dataset_writes_no_new_bytes(workspace: Workspace) -> None:
    store = Path(workspace.settings.store_path)
    df = pd.DataFrame({"x": np.arange(50_000), "s": [f"v{i % 97}" for i in range(50_000)]})
    with workspace.run() as run:
        run.log_dataset(df, "big")
    files = {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    assert len(files) == 1
    with workspace.run() as run:
        run.log_dataset(df.copy(), "big")
    workspace.close()
    with nbops.open() as again:  # a new process-level cache: the catalog knows the fingerprint
        with again.run() as run:
            run.log_dataset(pd.DataFrame(df.to_dict("list")), "big")
        assert {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()} == files
        versions = again.sql("SELECT DISTINCT version FROM v_artifacts WHERE name = 'big'")
        assert versions["version"].tolist() == [1]


def test_a_catalog_newer_than_the_code_is_refused(workspace_dir: Path) -> None:
    ws = nbops.open()
    ws.catalog.transaction(lambda con: con.execute(
        "INSERT INTO schema_version VALUES (999, 'm0999_future', now(), 'someone')"))
    ws.close()
    with pytest.raises(CatalogTooNew) as info:
        nbops.open()
    assert info.value.found == 999 and "999" in str(info.value)
    assert "upgrade nbops" in (info.value.hint or "")


def test_sql_over_the_catalog(shared: Workspace, four_runs: dict[str, str]) -> None:
    df = shared.sql("SELECT name, count(*) AS n FROM v_runs JOIN params USING (run_id) "
                       "GROUP BY name ORDER BY name")
    assert df["n"].tolist() == [2, 2, 2, 2]
    assert shared.sql("SELECT value FROM v_metrics_latest WHERE run_id = ? AND key = 'acc'",
                         [four_runs["b"]])["value"].tolist() == [0.85]
    with pytest.raises(CatalogError, match="the query failed"):
        shared.sql("SELEC 1")


def test_logging_a_value_again_restores_its_missing_object(workspace: Workspace) -> None:
    df = pd.DataFrame({"x": range(100)})
    with workspace.run() as run:
        run.log_dataset(df, "lost")
    key = workspace.artifact("lost")["object_key"]
    (Path(workspace.settings.store_path) / key[:2] / key[2:]).unlink()
    workspace.close()
    with nbops.open() as ws:
        with pytest.raises(ObjectMissing):
            ws.load("lost")
        with ws.run() as run:
            run.log_dataset(df, "lost")
        pd.testing.assert_frame_equal(ws.load("lost"), df)
