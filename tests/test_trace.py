"""`nbops trace REQUEST_ID`: a logged prediction traced to the version, its approvals, run and data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from governance_support import as_, open_workspace, team, train

import nbops.monitor
from nbops.cli import main
from nbops.governance.tracing import trace


@pytest.fixture
def ws(tmp_path, monkeypatch):
    w = open_workspace(tmp_path, monkeypatch)
    yield w
    w.close()


def _predict(ws, ref: str, x: float) -> str:
    [rid] = nbops.monitor.log_predictions(ref, {"f0": [x], "f1": [0.5], "f2": [0.1]}, [1], ws=ws)
    nbops.monitor.flush(ws)
    return rid


def test_trace_names_the_version_its_approval_and_the_training_run(ws, monkeypatch):
    team(ws)
    reg, gov = as_(ws, "alice")
    run_id = train(ws, 0.9)
    reg.register(f"{run_id}/clf", "churn")
    gov.set_policy("churn", "production", {"required_approvals": 1})
    req = as_(ws, "bob")[1].request_promotion("churn", 1, "production", "first model")
    as_(ws, "carol")[1].approve(req, "looks good")
    as_(ws, "dave")[0].promote("churn", 1, "production", "approved")
    rid = _predict(ws, "churn@production", 0.7)
    nbops.monitor.log_outcomes([rid], [0], ws=ws)
    nbops.monitor.flush(ws)
    reg.register(f"{train(ws, 0.95, 2.0)}/clf", "churn")
    reg.promote("churn", 2, "staging")

    t = trace(rid[:10], ws=ws)  # a unique prefix is enough
    assert t.request_id == rid and t.features == {"f0": 0.7, "f1": 0.5, "f2": 0.1}
    assert (t.version.name, t.version.version, t.aliases_then) == ("churn", 1, ["production"])
    assert [o["y_true"] for o in t.outcomes] == [0]
    assert [(a["actor"], a["decision"]) for a in t.approvals] == [("carol", "approve")]
    assert t.run["run_id"] == run_id and "X_train" in t.lineage
    text = str(t)
    assert "churn@v1 (held production at prediction time)" in text
    assert "production → v1 by dave" in text and "approve by carol" in text

    out = CliRunner().invoke(main, ["trace", rid, "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["model_version"]["version"] == 1 and doc["run"]["run_id"] == run_id


def test_alias_held_at_prediction_time_not_now(ws):
    reg, _ = as_(ws, "alice")
    for acc in (0.8, 0.9):
        reg.register(f"{train(ws, acc, acc)}/clf", "churn")
    reg.promote("churn", 1, "production")
    early = _predict(ws, "churn@production", 0.2)
    reg.promote("churn", 2, "production")
    late = _predict(ws, "churn@production", 0.3)
    from nbops import governance

    # the package-level name keeps working after the first call imported its module
    then, now = governance.trace(early, ws=ws), governance.trace(late, ws=ws)
    assert (then.version.version, then.aliases_then) == (1, ["production"])
    assert (now.version.version, now.aliases_then) == (2, ["production"])
    assert "production → v2" not in str(then)  # v1's own alias moves only


def test_unknown_and_unregistered_requests(ws):
    with pytest.raises(Exception, match="no logged prediction with request id"):
        trace("0123456789abcdef", ws=ws)
    rid = _predict(ws, "adhoc-model", float(np.pi))
    t = trace(rid, ws=ws)
    assert t.version is None and "not a registered version" in str(t)
    out = CliRunner().invoke(main, ["trace", "abc"])
    assert out.exit_code != 0 and "at least 6 characters" in out.output
