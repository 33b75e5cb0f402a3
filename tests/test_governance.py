"""Roles, one authorize, policies, approvals: each rule a user relies on."""

from __future__ import annotations

import time

import pytest
from governance_support import as_, open_workspace, team, train

from nbops.governance import PermissionDenied, PolicyViolation, RequestInvalidated
from nbops.governance.errors import RegistryConflict
from nbops.governance.identity import Action, Resource, Role, authorize


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """One workspace for the module (alice created it); each test uses its own model name."""
    with pytest.MonkeyPatch.context() as mp:
        w = open_workspace(tmp_path_factory.mktemp("gov"), mp)
        yield w
        w.close()


@pytest.fixture(scope="module")
def staffed(ws):
    team(ws)
    return ws


@pytest.fixture
def churn(staffed, request):
    """NAME v1 (acc 0.80, by alice) holds production; v2 (acc 0.90, by bob) is the candidate."""
    name = request.node.name.removeprefix("test_")[:40]
    reg, _ = as_(staffed, "alice")
    reg.register(f"{train(staffed, 0.80, 1.0)}/clf", name)
    reg.promote(name, 1, "production")
    as_(staffed, "bob")[0].register(f"{train(staffed, 0.90, 0.5)}/clf", name)
    return staffed, name


def test_authorize_orders_roles_and_scopes_them():
    grants = [{"principal": "bob", "scope": "*", "role": "contributor"},
              {"principal": "bob", "scope": "churn", "role": "deployer"}]
    assert authorize("bob", Action.PROMOTE, Resource("churn", "production"), grants=grants).allowed
    denied = authorize("bob", Action.PROMOTE, Resource("fraud", "production"), grants=grants)
    assert not denied.allowed and "needs the deployer role; bob is contributor" in denied.reason
    assert not authorize("zoe", Action.REGISTER, Resource("churn"), grants=grants).allowed
    assert authorize("root", Action.SET_POLICY, Resource("*"), grants=[], creator="root").allowed
    assert Role.VIEWER.rank < Role.CONTRIBUTOR.rank < Role.REVIEWER.rank < Role.DEPLOYER.rank < Role.ADMIN.rank


def test_first_user_is_admin_and_others_cannot_grant(tmp_path, monkeypatch):
    with open_workspace(tmp_path, monkeypatch, user="alice") as w:
        first = as_(w, "alice")[1].roles().to_dict("records")
        assert [(r["principal"], r["role"]) for r in first] == [("alice", "admin")]
        with pytest.raises(PermissionDenied, match="needs the admin role; mallory has no role"):
            as_(w, "mallory")[1].grant("mallory", "admin")
        team(w)  # alice's first grant turns her implicit admin role into a recorded one
        current = as_(w, "alice")[1].roles().set_index("principal")["role"].to_dict()
        assert current == {"alice": "admin", "bob": "contributor", "carol": "reviewer",
                           "erin": "reviewer", "dave": "deployer"}
        with pytest.raises(PermissionDenied):
            as_(w, "dave")[1].grant("bob", "deployer")


def test_actor_without_role_is_refused(churn):
    ws, name = churn
    with pytest.raises(PermissionDenied, match=f"register on {name} needs the contributor role"):
        as_(ws, "mallory")[0].register(f"{name}@v1", name)
    with pytest.raises(PolicyViolation) as err:
        as_(ws, "bob")[0].promote(name, 2, "production")
    assert err.value.violations == [f"promote on {name}@production needs the deployer role; bob is contributor"]
    with pytest.raises(PermissionDenied):
        as_(ws, "bob")[1].set_policy(name, "production", {"required_approvals": 0})


def test_model_scoped_role(churn):
    ws, name = churn
    as_(ws, "alice")[1].grant("bob", "deployer", model=name)
    assert as_(ws, "bob")[0].promote(name, 2, "staging").version == 2
    assert (as_(ws, "alice")[1].roles(name).query("principal == 'bob'")["role"].tolist()
            == ["contributor", "deployer"])


def test_promotion_with_unmet_requirements_lists_them_all(churn):
    ws, name = churn
    _, admin = as_(ws, "alice")
    admin.set_policy(name, "production", {
        "promote_role": "admin", "required_approvals": 2,
        "gates": ["data_checks", "fairness"],
        "metrics": [{"metric": "acc", "min": 0.95}, {"metric": "acc", "min_delta": 0.2},
                    {"metric": "latency_ms", "max": 50}]})
    admin.record_validation(name, 2, "fairness", False, {"gap": 0.3})
    with pytest.raises(PolicyViolation) as err:
        as_(ws, "dave")[0].promote(name, 2, "production")
    v = err.value.violations
    assert len(v) == 7, v
    assert f"promote on {name}@production needs the admin role; dave is deployer" in v
    assert "validation gate 'data_checks' has no recorded result" in v
    assert "validation gate 'fairness' failed (recorded by alice)" in v
    assert "metric acc = 0.9 is below the minimum 0.95" in v
    assert any("does not reach the current holder v1's 0.8 +0.2" in x for x in v)
    assert "metric 'latency_ms' is not recorded on the version's run" in v
    assert "needs 2 approval(s) from a reviewer or above, has 0" in v
    assert "7 unmet requirement(s)" in str(err.value)
    assert as_(ws, "alice")[0].resolve(f"{name}@production").version == 1  # nothing moved


def test_enough_valid_approvals_promote(churn):
    ws, name = churn
    _, admin = as_(ws, "alice")
    admin.set_policy(name, "production", {"required_approvals": 2, "gates": ["data_checks"],
                                          "metrics": [{"metric": "acc", "min_delta": 0.0}]})
    admin.record_validation(name, 2, "data_checks", True, {"rows": 40})
    rid = as_(ws, "bob")[1].request_promotion(name, 2, "production", "better acc")
    assert as_(ws, "carol")[1].approve(rid, "looks good") == "pending"
    with pytest.raises(PolicyViolation, match="has 1 \\(carol\\)"):
        as_(ws, "dave")[0].promote(name, 2, "production")
    assert as_(ws, "erin")[1].approve(rid, "ok") == "approved"
    mv = as_(ws, "dave")[0].promote(name, 2, "production", "approved by two reviewers")
    assert mv.version == 2 and "production" in mv.aliases
    assert admin.requests(name).set_index("request_id").loc[rid, "status"] == "completed"
    promote = admin.audit_log(name).query("action == 'promote'").iloc[0]
    assert '"approvers":["carol","erin"]' in promote["details"] and promote["actor"] == "dave"


def test_separation_of_duties(churn):
    ws, name = churn
    _, admin = as_(ws, "alice")
    admin.grant("bob", "reviewer", model=name)  # bob authored v2: he may review, not his own version
    admin.set_policy(name, "production", {"required_approvals": 1})
    rid = as_(ws, "carol")[1].request_promotion(name, 2, "production")
    with pytest.raises(PermissionDenied, match="bob registered the version and cannot approve it"):
        as_(ws, "bob")[1].approve(rid)
    with pytest.raises(PermissionDenied, match="carol requested the promotion"):
        as_(ws, "carol")[1].approve(rid)
    admin.set_policy(name, "production", {"required_approvals": 1, "separation_of_duties": False})
    rid = as_(ws, "bob")[1].request_promotion(name, 2, "production")
    assert as_(ws, "bob")[1].approve(rid) == "approved"
    assert as_(ws, "dave")[0].promote(name, 2, "production").version == 2


def test_reviewer_role_is_required_to_approve(churn):
    ws, name = churn
    as_(ws, "alice")[1].set_policy(name, "production", {"required_approvals": 1})
    rid = as_(ws, "bob")[1].request_promotion(name, 2, "production")
    with pytest.raises(PermissionDenied, match=f"approve on {name}@production needs the reviewer role"):
        as_(ws, "bob")[1].approve(rid)


def test_changed_policy_or_version_invalidates_request(churn):
    ws, name = churn
    _, admin = as_(ws, "alice")
    admin.set_policy(name, "production", {"required_approvals": 1})
    rid = as_(ws, "bob")[1].request_promotion(name, 2, "production")
    admin.set_policy(name, "production", {"required_approvals": 2})
    with pytest.raises(RegistryConflict, match="invalidated: the policy changed"):
        as_(ws, "carol")[1].approve(rid)
    rid = as_(ws, "bob")[1].request_promotion(name, 2, "production")
    as_(ws, "carol")[1].approve(rid)
    as_(ws, "alice")[0].archive(name, 2, "superseded")
    assert admin.requests(name).set_index("request_id").loc[rid, "status"] == "invalidated"
    assert admin.pending(name).empty


def test_request_made_under_other_policy_is_invalidated_on_approval(churn):
    ws, name = churn
    rid = as_(ws, "bob")[1].request_promotion(name, 2, "production")
    # A request that missed a policy change carries the old policy's seq.
    ws.catalog.transaction(lambda con: con.execute(
        "UPDATE promotion_requests SET policy_seq = 99999 WHERE request_id = ?", [rid]))
    with pytest.raises(RequestInvalidated):
        as_(ws, "carol")[1].approve(rid)
    assert as_(ws, "alice")[1].requests(name).set_index("request_id").loc[rid, "status"] == "invalidated"


def test_rejection_closes_request(churn):
    ws, name = churn
    as_(ws, "alice")[1].set_policy(name, "production", {"required_approvals": 1})
    rid = as_(ws, "bob")[1].request_promotion(name, 2, "production")
    assert as_(ws, "carol")[1].reject(rid, "drift on segment B") == "rejected"
    with pytest.raises(RegistryConflict, match="is rejected"):
        as_(ws, "erin")[1].approve(rid)


def test_expired_approvals_do_not_count(churn):
    ws, name = churn
    as_(ws, "alice")[1].set_policy(name, "production",
                                   {"required_approvals": 1, "approval_ttl_hours": 1e-6})
    rid = as_(ws, "bob")[1].request_promotion(name, 2, "production")
    as_(ws, "carol")[1].approve(rid)
    time.sleep(0.05)  # the ttl above is 3.6 ms
    with pytest.raises(PolicyViolation, match="carol's approval expired"):
        as_(ws, "dave")[0].promote(name, 2, "production")


def test_policy_for_every_model_applies_and_changes_are_audited(churn):
    ws, name = churn
    _, admin = as_(ws, "alice")
    admin.set_policy("*", "canary", {"gates": ["smoke"]})
    with pytest.raises(PolicyViolation, match="'smoke' has no recorded result"):
        as_(ws, "dave")[0].promote(name, 2, "canary")
    entry = admin.audit_log().iloc[0]
    assert entry["action"] == "set_policy" and entry["target"] == "policy:*@canary"
    assert admin.verify_audit().ok
