"""Experiments end to end on a real workspace: registered models, predict, outcomes, report."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.linear_model import LogisticRegression

import nbops
from nbops import registry
from nbops.abtest import Decision
from nbops.abtest.spec import ExperimentError
from nbops.governance.errors import PermissionDenied
from nbops.workspace import Workspace

VARIANTS = {"control": "churn@production", "treatment": "churn@challenger"}


def _features(n: int, seed: int = 0, cols: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(n, cols)), columns=[f"f{i}" for i in range(cols)])


@pytest.fixture(scope="module")
def shared_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One workspace with churn v1 (production) and v2 (challenger) for the whole module:
    registering costs seconds, and every test uses its own experiment names."""
    home = tmp_path_factory.mktemp("ab") / ".nbops"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NBOPS_USER", "tester")
        ws = Workspace.open(home)
        X = _features(300)
        y = (X.f0 > 0).astype(int)
        registry.register(LogisticRegression().fit(X, y), "churn", ws=ws)
        registry.promote("churn", 1, "production", ws=ws)
        registry.register(LogisticRegression(C=0.01).fit(X, y), "churn", ws=ws)
        registry.promote("churn", 2, "challenger", ws=ws)
        yield ws
        ws.close()


@pytest.fixture
def ws(shared_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("NBOPS_HOME", str(shared_ws.settings.home))
    monkeypatch.chdir(shared_ws.settings.home.parent)
    return shared_ws


def _simulate(exp: nbops.abtest.Experiment, n: int, p: dict[str, float], seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = np.arange(n)
    out = exp.predict(users, _features(n, seed))
    rate = out["variant"].map(p).to_numpy()
    converted = rng.random(n) < rate
    exp.log_outcomes(users[converted], np.ones(int(converted.sum())))
    return out


def test_true_lift_is_found_with_interval_srm_and_p_better(ws: Workspace) -> None:
    exp = nbops.ab.create("churn-ab", VARIANTS, unit="user_id", metric="converted", salt="s1", ws=ws)
    assert exp.report().decision == Decision.NOT_ENOUGH_DATA
    exp.start()
    out = _simulate(exp, 6000, {"control": 0.10, "treatment": 0.15})
    assert set(out.columns) == {"unit_id", "variant", "prediction", "error"}
    assert out["prediction"].isin([0, 1]).all()
    rep = exp.report()
    assert rep.decision == Decision.WINNER and rep.winner == "treatment"
    c = rep.comparison("treatment")
    assert c.test.interval[0] < 0.05 < c.test.interval[1]
    assert c.bayes.probability > 0.99
    assert rep.srm is not None and not rep.srm.mismatch
    assert "treatment wins" in str(rep)
    # A server's request is a batch of one, routed to a single variant.
    for uid in (int(out.index[out["variant"] == "treatment"][0]), int(out.index[out["variant"] == "control"][0])):
        one = exp.predict([uid], _features(1, seed=uid))
        assert len(one) == 1 and one["variant"].iloc[0] == out.loc[uid, "variant"]


def test_not_enough_data_and_srm_are_reported(ws: Workspace) -> None:
    exp = nbops.ab.create("small", VARIANTS, ws=ws).start()
    _simulate(exp, 150, {"control": 0.1, "treatment": 0.1})
    rep = exp.report()
    assert rep.decision == Decision.NOT_ENOUGH_DATA
    assert any("at least 100" in r for r in rep.reasons)
    # A logging bug that drops half of the treatment's exposures: the split no longer fits.
    skew = nbops.ab.create("skewed", VARIANTS, ws=ws).start()
    ids = np.arange(20000)
    planned = skew.assign(ids, record=False)
    keep = (planned == "control") | (ids % 2 == 0)
    skew.predict(ids[keep], _features(int(keep.sum())))
    rep = skew.report()
    assert rep.decision == Decision.SRM and rep.winner is None
    assert rep.srm.mismatch


def test_assignment_is_sticky_across_restarts_and_weight_changes(ws: Workspace) -> None:
    exp = nbops.ab.create("sticky", VARIANTS, {"control": 0.9, "treatment": 0.1}, ws=ws).start()
    old = np.arange(4000)
    first = exp.assign(old)
    exp.set_weights({"control": 0.1, "treatment": 0.9})
    # A restart: another process that knows only what the catalog holds.
    code = ("import json, numpy as np, nbops; ws = nbops.open(); exp = nbops.ab.get('sticky', ws=ws); "
            "print(json.dumps([list(exp.assign(np.arange(4000), record=False)), "
            "list(exp.assign(np.arange(10_000, 14_000), record=False))]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    old_again, new = json.loads(proc.stdout.strip().splitlines()[-1])
    assert old_again == list(first)
    assert 0.86 < np.mean(np.array(new) == "treatment") < 0.94
    rep = nbops.ab.get("sticky", ws=ws).report(min_units=10)
    assert rep.srm is None and any("SRM not checked" in r for r in rep.reasons)


def test_guardrail_breach_stops_the_experiment_and_is_audited(ws: Workspace) -> None:
    X3 = _features(300, cols=3)
    v3 = registry.register(LogisticRegression().fit(X3, (X3.f0 > 0).astype(int)), "churn", ws=ws)
    exp = nbops.ab.create("broken", {"control": "churn@production", "treatment": v3.ref},
                          guardrails=[{"error_rate": 0.05, "min_units": 50}], ws=ws).start()
    out = exp.predict(np.arange(400), _features(400))  # v3 wants 3 features: it raises
    broken = out["variant"] == "treatment"
    assert out.loc[broken, "error"].str.contains("feature").all()
    assert out["prediction"].notna().all()  # control answered instead
    rep = exp.report()
    assert rep.decision == Decision.GUARDRAIL
    assert exp.status == "stopped"
    log = nbops.governance.audit_log(ws=ws)
    assert {"ab.create", "ab.start", "ab.stop"} <= set(log["action"])
    with pytest.raises(ExperimentError, match="stopped"):
        exp.predict([1], _features(1))


def test_shadow_answers_with_control_and_logs_both(ws: Workspace) -> None:
    exp = nbops.ab.create("shadow", VARIANTS, mode="shadow", salt="s3", ws=ws).start()
    X = _features(500)
    out = exp.predict(np.arange(500), X)
    assert (out["variant"] == "control").all()
    control = registry.load("churn@production", ws=ws).predict(X)
    assert (out["prediction"].to_numpy(dtype=int) == control).all()
    rep = exp.report()
    assert rep.decision == Decision.SHADOW
    assert rep.health["treatment"]["requests"] == 500
    assert 0.5 < rep.shadow_agreement <= 1.0


def test_canary_ramps_weights_and_keeps_early_units(ws: Workspace) -> None:
    from datetime import timedelta

    exp = nbops.ab.create("canary", VARIANTS, mode="canary", ramp=[(0, 0.05), ("1h", 0.5)], ws=ws).start()
    t0 = exp.row.started_at
    assert exp.current_weights(t0)["treatment"] == pytest.approx(0.05)
    assert exp.current_weights(t0 + timedelta(hours=2))["treatment"] == pytest.approx(0.5)
    with pytest.raises(ExperimentError, match="canary"):
        nbops.ab.create("bad-canary", VARIANTS, mode="canary", ws=ws)
    # A live ramp: units exposed at 10% keep their variant when the ramp reaches 50%.
    live = nbops.ab.create("canary-live", VARIANTS, mode="canary", ramp=[(0, 0.1), ("1s", 0.5)], salt="s4",
                           ws=ws).start()
    early = live.assign(np.arange(3000))
    assert 0.07 < (early == "treatment").mean() < 0.13
    time.sleep(1.2)
    later = nbops.ab.get("canary-live", ws=ws)  # a fresh object: the history comes from the log
    assert (later.assign(np.arange(3000), record=False) == early).all()
    assert 0.45 < (later.assign(np.arange(5000, 8000), record=False) == "treatment").mean() < 0.55


def test_running_experiment_blocks_deleting_its_version_until_stopped(ws: Workspace) -> None:
    mv = registry.register(LogisticRegression().fit(_features(50), np.arange(50) % 2), "churn", ws=ws)
    exp = nbops.ab.create("pin", {"control": "churn@production", "treatment": mv.ref}, ws=ws).start()
    with pytest.raises(nbops.NbopsError, match="running experiment"):
        registry.delete("churn", mv.version, ws=ws)
    exp.stop("done")
    registry.delete("churn", mv.version, ws=ws)


def test_conclude_promotes_the_winner_and_permissions_are_enforced(ws: Workspace) -> None:
    nbops.governance.grant("tester", "admin", ws=ws)
    nbops.governance.grant("viewer-bob", "viewer", ws=ws)
    exp = nbops.ab.create("promo", VARIANTS, ws=ws)
    bob = nbops.ab.get("promo", ws=ws, actor="viewer-bob")
    with pytest.raises(PermissionDenied):
        bob.start()
    exp.start()
    exp.conclude("treatment", promote="perform", reason="lift")
    assert registry.resolve("churn@production", ws=ws).version == 2
    assert exp.status == "concluded"
    with pytest.raises(ExperimentError, match="concluded"):
        exp.start()


def test_bad_definitions_are_refused(ws: Workspace) -> None:
    with pytest.raises(ExperimentError, match="two variants"):
        nbops.ab.create("one", {"control": "churn@production"}, ws=ws)
    with pytest.raises(nbops.NbopsError, match="no alias"):
        nbops.ab.create("ghost", {"control": "churn@production", "t": "churn@nope"}, ws=ws)
    with pytest.raises(ExperimentError, match="guardrail"):
        nbops.ab.create("g", VARIANTS, guardrails=["latency < 3"], ws=ws)
    nbops.ab.create("dup", VARIANTS, ws=ws)
    with pytest.raises(ExperimentError, match="exists"):
        nbops.ab.create("dup", VARIANTS, ws=ws)
    names = nbops.ab.experiments(ws=ws)["name"].tolist()
    assert "dup" in names and not {"one", "ghost", "g"} & set(names)


def test_cli_create_start_report_conclude(ws: Workspace) -> None:
    from nbops.cli import main

    runner = CliRunner()
    r = runner.invoke(main, ["ab", "create", "cli-exp", "-v", "control=churn@production",
                             "-v", "treatment=churn@challenger", "--guardrail", "error_rate<0.1"])
    assert r.exit_code == 0, r.output
    assert runner.invoke(main, ["ab", "start", "cli-exp"]).exit_code == 0
    listed = runner.invoke(main, ["ab", "list", "--status", "running"])
    assert "cli-exp" in listed.output
    r = runner.invoke(main, ["ab", "report", "cli-exp"])
    assert r.exit_code == 0 and "not enough data" in r.output
    r = runner.invoke(main, ["ab", "conclude", "cli-exp", "nobody"])
    assert r.exit_code != 0 and "not a variant" in r.output
    r = runner.invoke(main, ["ab", "conclude", "cli-exp", "control"])
    assert r.exit_code == 0 and "concluded" in r.output


def test_continuous_metric_with_cuped_matches_welch_on_the_same_units(ws: Workspace) -> None:
    from scipy import stats as st

    exp = nbops.ab.create("revenue", VARIANTS, metric={"name": "revenue", "kind": "continuous"},
                          salt="s2", ws=ws).start()
    n = 3000
    rng = np.random.default_rng(5)
    users = np.arange(n)
    variant = exp.predict(users, _features(n))["variant"].to_numpy()
    pre = rng.gamma(2.0, 10.0, n)  # last month's revenue per user
    revenue = 0.8 * pre + rng.normal(0, 5, n) + np.where(variant == "treatment", 1.0, 0.0)
    exp.log_outcomes(users, revenue)
    rep = exp.report(pre_period=pd.Series(pre, index=users))
    c = rep.comparison("treatment")
    ref = st.ttest_ind(revenue[variant == "treatment"], revenue[variant == "control"], equal_var=False)
    assert c.test.p_value == pytest.approx(ref.pvalue, rel=1e-6)
    assert c.cuped is not None and c.cuped.variance_reduction > 0.8
    assert c.cuped.test.interval[0] < 1.0 < c.cuped.test.interval[1]
    assert c.cuped.test.interval[1] - c.cuped.test.interval[0] < (c.test.interval[1] - c.test.interval[0]) / 2
