"""example_notebooks/04_monitoring.ipynb: shifted traffic fires the drift alert, which triggers retraining."""

from __future__ import annotations

from pathlib import Path

from _pipelines_util import ws_fixture  # noqa: F401

NOTEBOOK = Path(__file__).resolve().parents[1] / "example_notebooks" / "04_monitoring.ipynb"


def test_monitoring_notebook_fires_the_drift_alert_and_triggers_retraining(ws, tmp_path: Path) -> None:
    import papermill as pm

    pm.execute_notebook(str(NOTEBOOK), str(tmp_path / "out.ipynb"), cwd=str(tmp_path),
                        kernel_name="python3", progress_bar=False, parameters={"n_requests": 2000},
                        store_widget_state=False)
    alerts = ws.sql("SELECT rule_name, state FROM v_alert_state")
    assert alerts.values.tolist() == [["churn-drift", "firing"]]
    triggers = ws.sql("SELECT schedule_name, kind FROM pipeline_triggers")
    assert triggers.values.tolist() == [["retrain-churn", "alert"]]
    assert '"state": "firing"' in (tmp_path / "alerts.jsonl").read_text()
    out = (tmp_path / "out.ipynb").read_text()  # the show.monitor dashboard, as exported HTML
    assert "Monitoring churn@prod" in out and "plotly-graph-div" in out and "alert fired" in out
