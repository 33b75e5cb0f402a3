"""Each kind of validation gate rule, on real registered models in a real workspace."""

from __future__ import annotations

import numpy as np
import pytest
from gates_support import dataset, production_and_candidate, register_tree
from sklearn.metrics import accuracy_score, log_loss

from nbops import gates
from nbops.errors import NbopsError
from nbops.registry import Registry


def test_metric_thresholds_absolute_and_relative_to_the_holder(workspace) -> None:
    X, y = production_and_candidate(workspace)
    reg = Registry(workspace)
    acc1 = accuracy_score(y, reg.load("m@v1").predict(X))
    acc2 = accuracy_score(y, reg.load("m@v2").predict(X))
    res = gates.validate("m@v2", (X, y), against="m@production", raise_on_failure=False, ws=workspace,
                         rules=[gates.metric("accuracy", min=0.5, max_drop=0.01),
                                gates.metric("accuracy", min=0.99, name="strict"),
                                gates.metric("log_loss", max_drop=100.0)])
    assert not res.passed and [g.name for g in res.failed] == ["metric:accuracy", "strict"]
    acc = res["metric:accuracy"].details
    assert acc["value"] == pytest.approx(acc2) and acc["baseline"] == pytest.approx(acc1)
    assert acc1 - acc2 > 0.2 and "worse than v1, more than the allowed 0.01" in res["metric:accuracy"].summary
    assert "below the minimum 0.99" in res["strict"].summary
    loss = res["metric:log_loss"].details  # lower is better: worse means a higher loss
    assert loss["value"] == pytest.approx(log_loss(y, reg.load("m@v2").predict_proba(X)))
    assert res["metric:log_loss"].passed and loss["value"] > loss["baseline"]
    with pytest.raises(gates.GatesFailed, match=r"(?s)m@v2 failed validation gate\(s\) metric:accuracy, "
                                                r"strict.*FAIL  metric:accuracy"):
        gates.validate("m@v2", (X, y), against="m@production", ws=workspace,
                       rules=[gates.metric("accuracy", max_drop=0.01), gates.metric("accuracy", min=0.99,
                                                                                    name="strict")])


def test_relative_rules_pass_while_the_alias_has_no_holder(workspace) -> None:
    X, y = dataset()
    register_tree(workspace, X, y)
    res = gates.validate("m@latest", (X, y), against="m@production", ws=workspace,
                         rules=[gates.metric("accuracy", max_drop=0.0), gates.slices("region")])
    assert res.passed and res.baseline_version is None
    assert "no current holder" in res["metric:accuracy"].summary
    assert "no current holder" in res.text()
    with pytest.raises(NbopsError, match="against= is missing"):
        gates.validate("m@v1", (X, y), ws=workspace, rules=[gates.metric("accuracy", max_drop=0.0)])
    with pytest.raises(NbopsError, match="no registered model 'other'"):
        gates.validate("m@v1", (X, y), against="other@production", ws=workspace,
                       rules=[gates.metric("accuracy", max_drop=0.0)])


def test_slices_flag_only_the_slice_that_regressed(workspace) -> None:
    X, y = production_and_candidate(workspace)
    tiny = np.where(np.arange(len(X)) < 5, "few", X["region"].map({0: "r0", 1: "r1"}))
    res = gates.validate("m@v2", (X, y), against="m@production", raise_on_failure=False, ws=workspace,
                         rules=[gates.slices("region", max_drop=0.05),
                                gates.slices(tiny, max_drop=0.05, min_rows=10, name="tiny")])
    by_region = {s["slice"]: s for s in res["slices:region"].details["slices"]}
    assert by_region["0"]["worse_by"] <= 0.05 < by_region["1"]["worse_by"]
    assert not res["slices:region"].passed and "1 regressed" in res["slices:region"].summary
    assert "1 (" in res["slices:region"].summary and "0 (" not in res["slices:region"].summary
    few = {s["slice"]: s for s in res["tiny"].details["slices"]}["few"]
    assert few["rows"] == 5 and few["skipped"] == "fewer than 10 rows"


def test_data_checks_schema_nulls_and_drift_against_the_training_data(workspace) -> None:
    X, y = dataset()
    register_tree(workspace, X, y)
    rules = [gates.schema(), gates.nulls(max_increase=0.05), gates.drift(max_share=0.3)]
    fresh, _ = dataset(n=300, seed=1)
    ok = gates.validate("m@v1", fresh, rules=rules, ws=workspace)
    assert ok.passed and "3 columns match" in ok["schema"].summary

    broken = fresh.drop(columns="x2").assign(region=fresh["region"].astype(float), extra=1)
    broken.loc[broken.index[:60], "x1"] = np.nan
    broken["region"] = broken["region"] + 5.0  # every value outside the training range
    res = gates.validate("m@v1", broken, rules=rules, raise_on_failure=False, ws=workspace)
    schema = res["schema"].details
    assert schema["missing"] == ["x2"] and schema["unexpected"] == ["extra"]
    assert schema["changed"] == {"region": "int64 -> float64"}
    assert not res["nulls"].passed and "x1 0.0% -> 20.0%" in res["nulls"].summary
    assert not res["drift"].passed and "region" in res["drift"].details["drifted"]
    assert res["drift"].details["share"] > 0.3


def test_data_checks_without_recorded_training_data(workspace) -> None:
    X, y = dataset()
    register_tree(workspace, X, y, log_data=False)
    res = gates.validate("m@v1", X.drop(columns="x1"), raise_on_failure=False, ws=workspace,
                         rules=[gates.schema(), gates.drift()])
    assert "the model's feature_names_in_" in res["schema"].summary and res["schema"].details["missing"] == ["x1"]
    assert not res["drift"].passed and "no training data recorded for m@v1" in res["drift"].summary


def test_custom_callables(workspace) -> None:
    X, y = dataset()
    register_tree(workspace, X, y)

    def small_model(ctx: gates.GateContext) -> tuple[bool, dict]:
        return ctx.model.get_depth() <= 4, {"depth": ctx.model.get_depth()}

    def crashes(ctx: gates.GateContext) -> bool:
        raise RuntimeError("feature store unreachable")

    res = gates.validate("m@v1", (X, y), ws=workspace, raise_on_failure=False, rules=[
        small_model, gates.check(lambda ctx: {"passed": len(ctx.X) > 1000, "message": "too few rows"}),
        gates.check(lambda ctx: "yes", name="wrong"), crashes])
    assert res["small_model"].passed and res["small_model"].details == {"depth": 4}
    assert not res["custom"].passed and res["custom"].summary == "too few rows"
    assert "could not be evaluated" in res["wrong"].summary and "return a bool" in res["wrong"].summary
    assert res["crashes"].summary == "could not be evaluated: RuntimeError: feature store unreachable"


def test_bad_input_is_refused_before_anything_is_recorded(workspace) -> None:
    X, y = dataset()
    register_tree(workspace, X, y)
    model = Registry(workspace).load("m@v1")
    with pytest.raises(NbopsError, match="must be a registered version") as err:
        gates.validate(model, (X, y), rules=[gates.schema()], ws=workspace)
    assert "register it first" in (err.value.hint or "")
    with pytest.raises(NbopsError, match="share the gate name"):
        gates.validate("m@v1", (X, y), rules=[gates.schema(), gates.schema()], ws=workspace)
    with pytest.raises(NbopsError, match="need labels"):
        gates.validate("m@v1", X, rules=[gates.metric("accuracy", min=0.5)], ws=workspace)
    with pytest.raises(NbopsError, match="unknown metric 'acc'"):
        gates.metric("acc", min=0.5)
    assert gates.results("m@v1", ws=workspace).empty
