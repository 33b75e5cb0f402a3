"""The Airflow export loads in Airflow's own DagBag without import errors.

Airflow lives in a separate virtual environment (its dependencies clash with
nbops's), built once and cached under $NBOPS_TEST_CACHE (default: the temp
directory's nbops-test-cache). The first build takes a few minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from _pipelines_util import make_notebook, ws_fixture  # noqa: F401

from nbops.pipelines import add_schedule
from nbops.pipelines.export import write_airflow

pytestmark = pytest.mark.slow

_LOAD = """
import json, sys
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False) if 'include_examples' in DagBag.__init__.__code__.co_varnames else DagBag(dag_folder=sys.argv[1])
dags = {i: {"tasks": [type(t).__name__ for t in d.tasks], "retries": d.default_args.get("retries"),
            "catchup": d.catchup} for i, d in bag.dags.items()}
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": dags}))
"""


def _airflow_python() -> Path:
    cache = Path(os.environ.get("NBOPS_TEST_CACHE") or Path(tempfile.gettempdir()) / "nbops-test-cache")
    venv = cache / "airflow-venv"
    python = venv / "bin" / "python"
    if (venv / ".nbops-installed").exists():
        return python
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "apache-airflow",
                              "apache-airflow-providers-papermill"], capture_output=True, text=True)
    if install.returncode != 0:
        pytest.fail(f"cannot install Airflow: {install.stderr[-2000:]}")
    (venv / ".nbops-installed").touch()
    return python


def test_airflow_dagbag_loads_the_exported_dags(ws, tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "train.ipynb", "x = 1", parameters="alpha = 1")
    rows = [add_schedule("nightly", str(nb), ws=ws, cron="30 2 * * 1-5", tz="Europe/Berlin",
                         parameters={"alpha": 3, "label": "it's"}, retries=2, timeout=600,
                         catchup="all"),
            add_schedule("on-data", str(nb), ws=ws, watch="data/*.csv")]
    home = ws.settings.home
    for flavour in ("bash", "papermill"):
        write_airflow(rows, tmp_path / flavour, home.parent, home, flavour=flavour)
    python = _airflow_python()
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PYTHONPATH": ""}
    for flavour, operator in (("bash", "BashOperator"), ("papermill", "PapermillOperator")):
        out = subprocess.run([str(python), "-c", _LOAD, str(tmp_path / flavour)], env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["errors"] == {}
        assert result["dags"]["nbops_nightly"] == {"tasks": [operator], "retries": 2, "catchup": True}
        assert set(result["dags"]) == {"nbops_nightly", "nbops_on-data"}
