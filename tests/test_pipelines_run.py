"""nbops run / nbops.pipelines.run with real kernels: parameters, failures, timeouts, dead kernels."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest
from _pipelines_util import make_notebook, pid_gone, ws_fixture  # noqa: F401
from click.testing import CliRunner

from nbops.cli import main
from nbops.pipelines import run
from nbops.pipelines.params import ParameterError, collect_parameters, parse_value


def test_parameters_and_run_id_reach_the_notebook(ws, tmp_path: Path) -> None:
    nb = make_notebook(
        tmp_path / "p.ipynb",
        "import json, os\n"
        "print(json.dumps({'alpha': alpha, 'name': name, 'flag': flag, 'frac': frac,\n"
        "                  'run': os.environ['NBOPS_PIPELINE_RUN_ID'], 'home': os.environ['NBOPS_HOME']}))",
        "%load_ext nbops",
        "%%track -q -n in_pipeline\ndoubled = alpha * 2",
        parameters="alpha = 1\nname = 'default'\nflag = False\nfrac = 0.1")
    lines: list[str] = []
    result = run(nb, collect_parameters([("alpha", "7"), ("flag", "True")], yaml_text="name: yaml"),
                 ws=ws, progress=lines.append, output=tmp_path / "out.ipynb")
    assert result.ok, result.error_message
    out = nbformat.reads(ws.store.get(result.output_key).decode(), as_version=4)
    printed = json.loads(out.cells[-3].outputs[0]["text"])
    assert printed == {"alpha": 7, "name": "yaml", "flag": True, "frac": 0.1, "run": result.id,
                       "home": str(ws.settings.home)}
    assert (tmp_path / "out.ipynb").read_bytes() == ws.store.get(result.output_key)
    assert any("[  2] ok" in line for line in lines)  # one line per cell
    rows = ws.sql("SELECT status FROM pipeline_runs WHERE pipeline_run_id = ? ORDER BY recorded_at",
                  [result.id])["status"].tolist()
    assert rows == ["running", "succeeded"]
    assert result.parameters == {"alpha": 7, "name": "yaml", "flag": True}
    # The tracked cell inside the kernel attached its run to the pipeline run.
    tracked = ws.runs(notebook=str(nb.resolve()))
    assert tracked["pipeline_run_id"].tolist() == [result.id]
    assert tracked["name"].tolist() == ["in_pipeline"] and tracked["metric.doubled"].tolist() == [14]
    # ... and knows which cell of the notebook it was (its id, as JupyterLab would send it).
    source_ids = [c.id for c in nbformat.read(nb, as_version=4).cells if "%%track" in c.source]
    cells = ws.sql("SELECT cell_id FROM runs WHERE pipeline_run_id = ?", [result.id])
    assert cells["cell_id"].tolist() == source_ids


def test_failing_cell_is_reported_with_index_and_error(ws, tmp_path: Path) -> None:
    make_notebook(tmp_path / "bad.ipynb", "x = 1", "def f():\n    return {}['missing']\nf()", "never = 1")
    res = CliRunner().invoke(main, ["run", "bad.ipynb", "-q"])
    assert res.exit_code == 1
    run_id = res.output.strip().splitlines()[-1]
    shown = CliRunner().invoke(main, ["pipeline", "show", run_id])
    assert "failed" in shown.output
    assert "error in cell [1]: KeyError: 'missing'" in shown.output
    assert "----> 3 f()" in shown.output  # the whole traceback, not only ename/evalue
    listed = CliRunner().invoke(main, ["pipeline", "runs", "--status", "failed"])
    assert run_id in listed.output


def test_timeout_kills_the_kernel_and_its_children(ws, tmp_path: Path) -> None:
    pids = tmp_path / "pids.json"
    nb = make_notebook(
        tmp_path / "slow.ipynb",
        "import json, os, subprocess, time\n"
        "child = subprocess.Popen(['sleep', '300'])\n"
        f"open({str(pids)!r}, 'w').write(json.dumps([os.getpid(), child.pid]))\n"
        "time.sleep(300)")
    started = time.monotonic()
    result = run(nb, ws=ws, timeout=8, progress=False)
    assert time.monotonic() - started < 60
    assert result.status == "timeout"
    assert result.error_cell_index == 0
    assert "timeout" in result.error_message
    kernel_pid, child_pid = json.loads(pids.read_text())
    assert pid_gone(kernel_pid) and pid_gone(child_pid)


def test_a_kernel_that_dies_is_reported_as_killed(ws, tmp_path: Path) -> None:
    nb = make_notebook(tmp_path / "die.ipynb", "import os, signal", "os.kill(os.getpid(), signal.SIGKILL)")
    result = run(nb, ws=ws, progress=False)
    assert result.status == "killed"
    assert result.error_cell_index == 1
    assert "signal 9" in result.error_message


def test_parameter_values_are_typed_like_papermill(tmp_path: Path) -> None:
    assert [parse_value(v) for v in ["3", "-2", "0.5", "1e3", "True", "false", "None", "abc", "nan"]] == \
        [3, -2, 0.5, 1000.0, True, False, None, "abc", "nan"]
    f = tmp_path / "p.yaml"
    f.write_text("a: 1\nb: [1, 2]\n")
    assert collect_parameters([("a", "2")], yaml_file=f) == {"a": 2, "b": [1, 2]}
    with pytest.raises(ParameterError, match="identifier"):
        collect_parameters([("not-a-name", "1")])
    with pytest.raises(ParameterError, match="mapping"):
        collect_parameters(yaml_text="- 1\n- 2")


def test_missing_notebook_is_a_clear_error(ws) -> None:
    res = CliRunner().invoke(main, ["run", "nope.ipynb"])
    assert res.exit_code != 0
    assert "no notebook nope.ipynb" in res.output
