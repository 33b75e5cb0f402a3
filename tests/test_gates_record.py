"""Gate results on the catalog: one audited commit per validation, read by promotion policies,
acted on with the policy's consent, and listed by ``nbops gates show``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from gates_support import production_and_candidate

from nbops import gates, registry
from nbops.cli import main
from nbops.errors import NbopsError
from nbops.governance import Governance, PermissionDenied, Policy, PolicyViolation
from nbops.registry import Registry


def test_every_gate_is_recorded_in_one_audited_commit(workspace) -> None:
    X, y = production_and_candidate(workspace)
    snapshots = len(workspace.sql("SELECT * FROM lake.snapshots()"))
    res = gates.validate("m@v2", (X, y), against="m@production", raise_on_failure=False, ws=workspace,
                         rules=[gates.metric("accuracy", max_drop=0.01), gates.schema(), gates.nulls()])
    assert len(workspace.sql("SELECT * FROM lake.snapshots()")) == snapshots + 1
    rows = workspace.sql("SELECT gate, passed, details, audit_seq FROM validations WHERE version = 2")
    assert sorted(rows["gate"]) == ["metric:accuracy", "nulls", "schema"]
    assert rows["audit_seq"].nunique() == 1
    details = json.loads(rows.set_index("gate").loc["metric:accuracy", "details"])
    assert details["baseline"] == pytest.approx(res["metric:accuracy"].details["baseline"])
    assert details["against"] == "m@production" and details["baseline_version"] == 1
    entry = Governance(workspace).audit_log("m", limit=1).iloc[0]
    assert entry["action"] == "record_validation" and entry["target"] == "model:m@v2"
    assert json.loads(entry["details"])["gates"] == {"metric:accuracy": False, "schema": True, "nulls": True}
    assert Governance(workspace).verify_audit().ok


def test_promotion_refuses_listing_every_unmet_gate(workspace) -> None:
    X, y = production_and_candidate(workspace)
    Governance(workspace).set_policy("m", "production", {
        "gates": ["metric:accuracy", "schema", "fairness"], "on_pass": "promote"})
    with pytest.raises(gates.GatesFailed):
        gates.validate("m@v2", (X, y), against="m@production", promote_to="production", ws=workspace,
                       rules=[gates.metric("accuracy", max_drop=0.01), gates.schema()])
    with pytest.raises(PolicyViolation) as err:
        Registry(workspace).promote("m", 2, "production")
    assert err.value.violations == [
        "validation gate 'metric:accuracy' failed (recorded by tester)",
        "validation gate 'fairness' has no recorded result"]
    # v2 passes the gates it is given, but the policy also needs 'fairness': promote_to says so, then refuses
    with pytest.raises(PolicyViolation, match="'fairness' has no recorded result"):
        gates.validate("m@v2", (X, y), against="m@production", promote_to="production", ws=workspace,
                       rules=[gates.metric("accuracy", min=0.5, name="metric:accuracy"), gates.schema()])
    assert Registry(workspace).resolve("m@production").version == 1


def test_on_pass_promotes_requests_or_leaves_the_alias(workspace) -> None:
    X, y = production_and_candidate(workspace)
    gov, rules = Governance(workspace), [gates.metric("accuracy", min=0.5), gates.schema()]
    res = gates.validate("m@v2", (X, y), rules=rules, promote_to="production", ws=workspace)
    assert "does not consent" in res.promotion and Registry(workspace).resolve("m@production").version == 1

    gov.set_policy("m", "production", {"gates": ["metric:accuracy"], "on_pass": "request"})
    res = gates.validate("m@v2", (X, y), rules=rules, promote_to="production", ws=workspace)
    pending = gov.pending("m")
    assert pending["request_id"].tolist() == [res.request_id] and pending["version"].tolist() == [2]

    gov.set_policy("m", "production", {"gates": ["metric:accuracy", "schema"], "on_pass": "promote"})
    res = gates.validate("m@v2", (X, y), rules=rules, promote_to="production", ws=workspace)
    assert res.promotion == "promoted m v2 to production (policy on_pass=promote)"
    assert Registry(workspace).resolve("m@production").version == 2
    assert "accuracy = " in registry.card("m@v2", ws=workspace).markdown  # the card shows summaries
    with pytest.raises(NbopsError, match="invalid alias 'v9'"):
        gates.validate("m@v2", (X, y), rules=rules, promote_to="v9", ws=workspace)
    gov.grant("vic", "viewer")
    with pytest.raises(PermissionDenied):
        gates.validate("m@v2", (X, y), rules=rules, ws=workspace, actor="vic")
    with pytest.raises(NbopsError, match="on_pass must be one of"):
        Policy.from_dict({"on_pass": "deploy"})


def test_gates_show_lists_the_recorded_results(workspace) -> None:
    X, y = production_and_candidate(workspace)
    gates.validate("m@v2", (X, y), against="m@production", raise_on_failure=False, ws=workspace,
                   rules=[gates.metric("accuracy", max_drop=0.01), gates.schema()])
    gates.validate("m@v1", (X, y), rules=[gates.schema()], ws=workspace)
    runner = CliRunner()
    bad = runner.invoke(main, ["gates", "show", "m@v2"])
    assert bad.exit_code == 1, bad.output
    lines = bad.output.splitlines()
    assert lines[0] == "m@v2: v2, 2 gate result(s)"
    assert lines[1].split()[:2] == ["FAILED", "metric:accuracy"] and "worse than v1" in lines[1]
    assert lines[2].split()[:2] == ["ok", "schema"]
    good = runner.invoke(main, ["gates", "show", "m@production", "--json"])
    assert good.exit_code == 0, good.output
    assert [json.loads(line)["gate"] for line in good.output.splitlines()] == ["schema"]
    none = runner.invoke(main, ["gates", "show", "m@v3"])
    assert none.exit_code != 0 and "m has no version 3" in none.output
    policy = runner.invoke(main, ["policy", "set", "m", "production", "--gate", "schema", "--on-pass", "request"])
    assert policy.exit_code == 0, policy.output
    assert Governance(workspace).policy("m", "production") == Policy(gates=("schema",), on_pass="request")
