"""The registry as a user meets it: versions with lineage, references, aliases, guards, cards, CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from governance_support import as_, open_workspace, train
from sklearn.linear_model import LogisticRegression

import nbops.registry
from nbops.cli import main
from nbops.errors import InvalidName, NbopsError, NotFound
from nbops.governance.errors import PolicyViolation, RegistryConflict


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("reg")
        w = open_workspace(root, mp)
        w.root = root  # type: ignore[attr-defined]
        yield w
        w.close()


@pytest.fixture
def name(request):
    return request.node.name.removeprefix("test_")[:40]


def test_register_keeps_run_lineage_and_numbers_versions(ws, name):
    reg, _ = as_(ws, "alice")
    run_id = train(ws, 0.8)
    v1 = reg.register(f"{run_id}/clf", name, description="baseline")
    assert (v1.version, v1.run_id, v1.artifact_name, v1.status) == (1, run_id, "clf", "active")
    model = ws.load(f"{run_id}/clf")
    v2 = reg.register(model, name)  # the same object: lineage goes back to the training run
    assert (v2.version, v2.run_id, v2.fingerprint) == (2, run_id, v1.fingerprint)
    fresh = LogisticRegression(C=3.0).fit([[0.0], [1.0]], [0, 1])
    v3 = reg.register(fresh, name)  # never tracked: a register run stores it
    assert v3.version == 3 and v3.run_id not in (None, run_id)
    assert ws.run_details(v3.run_id)["run"]["kind"] == "register"
    assert reg.versions(name)["version"].tolist() == [1, 2, 3]


def test_references_resolve_everywhere(ws, name):
    reg, _ = as_(ws, "alice")
    r1, r2 = train(ws, 0.7, 1.0), train(ws, 0.9, 2.0)
    reg.register(f"{r1}/clf", name)
    reg.register(f"{r2}/clf", name)
    reg.promote(name, "v1", "production")
    assert reg.resolve(f"{name}@production").version == 1
    assert reg.resolve(f"{name}@v2").version == 2
    assert reg.resolve(f"{name}@latest").version == 2
    assert reg.promote(name, "production", "shadow").version == 1  # an alias names a version too
    row = ws.artifact(f"{name}@production")  # the workspace follows registry aliases
    assert (row["model_version"], row["run_id"]) == (1, r1)
    assert ws.load(f"{name}@production").get_params()["C"] == 1.0
    assert nbops.registry.load(f"{name}@v2", ws=ws).get_params()["C"] == 2.0
    with pytest.raises(NotFound, match="no alias 'canary'"):
        ws.artifact(f"{name}@canary")
    with pytest.raises(NotFound, match="has no version 7"):
        reg.resolve(f"{name}@v7")
    with pytest.raises(InvalidName):
        reg.promote(name, 1, "v9")


def test_rollback_restores_previous_holders(ws, name):
    reg, _ = as_(ws, "alice")
    for c in (1.0, 2.0, 3.0):
        reg.register(LogisticRegression(C=c).fit([[0.0], [1.0]], [0, 1]), name)
    reg.promote(name, 1, "production")
    with pytest.raises(RegistryConflict, match="no previous holder"):
        reg.rollback(name, "production", "nothing before")
    reg.promote(name, 2, "production")
    reg.promote(name, 3, "production")
    with pytest.raises(NbopsError, match="needs a reason"):
        reg.rollback(name, "production", " ")
    assert reg.rollback(name, "production", "latency regression").version == 2
    assert reg.rollback(name, "production", "v2 leaks memory").version == 1
    hist = reg.history(name, "production")
    assert hist["kind"].tolist() == ["promote", "promote", "promote", "rollback", "rollback"]
    assert hist["version"].tolist() == [1, 2, 3, 2, 1]
    assert hist["reason"].tolist()[-1] == "v2 leaks memory"


def test_archive_and_delete_are_guarded(ws, name):
    reg, _ = as_(ws, "alice")
    for c in (1.0, 2.0):
        reg.register(LogisticRegression(C=c).fit([[0.0], [1.0]], [0, 1]), name)
    reg.promote(name, 1, "production")
    with pytest.raises(RegistryConflict, match="holds the alias\\(es\\) production"):
        reg.delete(name, 1)
    reg.archive(name, 2, "superseded")
    with pytest.raises(PolicyViolation, match="is archived"):
        reg.promote(name, 2, "production")
    reg.delete(name, 2, "bad data")
    with pytest.raises(NotFound, match="was deleted"):
        reg.resolve(f"{name}@v2")
    assert reg.versions(name)["status"].tolist() == ["active", "deleted"]
    extra = nbops.registry.Registry(ws, "alice", guards=[lambda con, m, n, v: "it serves experiment ab1"])
    with pytest.raises(RegistryConflict, match="serves experiment ab1"):
        extra.delete(name, 1)


def test_model_card_has_lineage_data_and_governance(ws, name, tmp_path):
    reg, gov = as_(ws, "alice")
    reg.register(f"{train(ws, 0.83)}/clf", name, intended_use="Rank customers by churn risk.")
    gov.record_validation(name, 1, "data_checks", True, {"nulls": 0})
    reg.promote(name, 1, "production", "first model")
    card = nbops.registry.card(f"{name}@production", ws=ws)
    md = card.markdown
    for text in ("Rank customers by churn risk.", "| X_train | input |", "| C | 1.0 | run parameter |",
                 "| acc | 0.83 |", "| data_checks | yes | alice", "| production | promote | v1 |",
                 "wrote", "python"):
        assert text in md, text
    assert "Statistics of X_train" in md
    md_path, html_path = card.save(tmp_path)
    assert html_path.read_text().startswith("<!doctype html>") and "<table>" in html_path.read_text()
    assert md_path.name == f"{name}-v1.md"


def test_cli_walkthrough(ws, name, monkeypatch, tmp_path):
    run_id = train(ws, 0.8)
    monkeypatch.setenv("NBOPS_USER", "alice")
    cli = CliRunner()

    def ok(*args: str) -> str:
        result = cli.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    assert f"registered {name} v1" in ok("register", f"{run_id}/clf", name)
    assert f"{name}@production -> v1" in ok("promote", name, "1", "production")
    assert name in ok("models") and "production" in ok("models", "show", name)
    ok("policy", "set", name, "staging", "--approvals", "1", "--metric", "acc>=0.9", "--gate", "smoke")
    denied = cli.invoke(main, ["promote", name, "1", "staging"])
    assert denied.exit_code == 3
    assert "3 unmet requirement(s)" in denied.output and "acc = 0.8 is below the minimum 0.9" in denied.output
    assert "wrote" in ok("card", f"{name}@production", "--out", str(tmp_path))
    assert "audit chain intact" in ok("audit", "verify")
    assert "promote" in ok("audit", "log", "--model", name)
    monkeypatch.setenv("NBOPS_USER", "mallory")
    refused = cli.invoke(main, ["roles", "grant", "mallory", "admin"])
    assert refused.exit_code == 3 and "mallory has no role" in refused.output
