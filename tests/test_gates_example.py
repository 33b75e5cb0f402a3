"""example_notebooks/03_retraining_pipeline.ipynb as a pipeline: it validates a retrained model
against production and auto-promotes only when the gates pass."""

from __future__ import annotations

from pathlib import Path

from _pipelines_util import ws_fixture  # noqa: F401
from click.testing import CliRunner
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

from nbops import governance, pipelines, registry
from nbops.cli import main
from nbops.gates import results

NOTEBOOK = Path(__file__).resolve().parents[1] / "example_notebooks" / "03_retraining_pipeline.ipynb"
GATES = ["metric:accuracy", "slices:tumour size", "schema"]


def _production_v1(ws) -> None:
    """A weak model in production (a depth-1 tree, trained on the rows the notebook trains on),
    and a policy that consents to auto-promotion."""
    data = load_breast_cancer(as_frame=True).frame
    X, y = data.drop(columns="target"), data["target"]
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    with ws.run(name="first model") as run:
        run.log_dataset(data, "training-data", role="input")
        run.log_model(DecisionTreeClassifier(max_depth=1, random_state=0).fit(X_train, y_train), "stump")
    registry.register(f"{run.run_id}/stump", "cancer-rf", ws=ws)
    registry.promote("cancer-rf", 1, "production", ws=ws)
    governance.set_policy("cancer-rf", "production", {"gates": GATES, "on_pass": "promote"}, ws=ws)


def test_retraining_pipeline_promotes_only_when_the_gates_pass(ws, tmp_path: Path) -> None:
    _production_v1(ws)
    new_data = tmp_path / "new.parquet"
    load_breast_cancer(as_frame=True).frame.to_parquet(new_data)  # the newest snapshot

    good = pipelines.run(NOTEBOOK, {"n_estimators": 30, "data_path": str(new_data)}, ws=ws,
                         cwd=tmp_path, progress=False)
    assert good.ok, f"{good.error_name}: {good.error_message}"
    assert registry.resolve("cancer-rf@production", ws=ws).version == 2
    passed = results("cancer-rf@v2", ws=ws)
    assert set(GATES) <= set(passed["gate"]) and passed["passed"].all()
    assert registry.history("cancer-rf", ws=ws)["reason"].iloc[-1].startswith("validation gates passed")

    bad = pipelines.run(NOTEBOOK, {"n_estimators": 1, "max_depth": 1}, ws=ws, cwd=tmp_path,
                        progress=False)
    assert bad.status == "failed" and bad.error_name == "GatesFailed"
    assert "cancer-rf@v3 failed validation gate(s) metric:accuracy" in bad.error_message
    assert "worse than v2, more than the allowed 0.01" in bad.error_message
    assert registry.resolve("cancer-rf@production", ws=ws).version == 2
    failed = results("cancer-rf@v3", ws=ws).set_index("gate")["passed"]
    assert not failed["metric:accuracy"] and failed["schema"]
    shown = CliRunner().invoke(main, ["pipeline", "show", bad.id]).output
    assert "GatesFailed: cancer-rf@v3 failed validation gate(s)" in shown
    assert "  FAIL  metric:accuracy" in shown and "  ok    schema" in shown
