"""The REST API of the Jupyter server extension, through a real jupyter_server (pytest-jupyter)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("jupyter_server")
pytest.importorskip("pytest_jupyter")

from tornado.httpclient import HTTPClientError  # noqa: E402


async def test_runs_page_newest_first_with_values_and_hidden_flag(lab: dict[str, Any], api: Any) -> None:
    status, page = await api("runs", notebook=lab["notebook"], limit=2)
    assert status == 200
    assert page["total"] == 3 and len(page["runs"]) == 2
    assert [r["name"] for r in page["runs"]] == ["train-2", "train-1"]
    assert page["runs"][0]["params"] == {"C": 10.0} and page["runs"][0]["metrics"]["acc"] == pytest.approx(0.9)
    assert page["runs"][0]["hidden_state"] and page["runs"][1]["hidden_state"] is None
    _, rest = await api("runs", notebook=lab["notebook"], limit=2, offset=2)
    assert [r["name"] for r in rest["runs"]] == ["train-0"]
    _, other = await api("runs", notebook="other.ipynb")
    assert other["total"] == 0 and other["runs"] == []


async def test_runs_filter_and_sort(lab: dict[str, Any], api: Any) -> None:
    _, page = await api("runs", filter="metric.acc > 0.82", sort="metric.acc", order="asc")
    assert [r["name"] for r in page["runs"]] == ["train-1", "train-2"] and page["total"] == 2
    status, err = await api("runs", filter="metric.acc >")
    assert status == 400 and "invalid filter" in err["error"] and err["hint"]
    status, err = await api("runs", limit=100000)
    assert status == 400 and "limit" in err["error"]


async def test_run_details_and_diff(lab: dict[str, Any], api: Any) -> None:
    a, b = lab["runs"][0], lab["runs"][2]
    status, d = await api(f"runs/{a}")
    assert status == 200
    assert "LogisticRegression(C=C)" in d["code"] and d["params"] == {"C": 0.1}
    assert [m["key"] for m in d["metrics"]] == ["acc"]
    assert [o["name"] for o in d["outputs"]] == ["clf"] and d["inputs"] == []
    assert any(e["dst_ref"].startswith("clf") for e in d["lineage"])
    _, diff = await api(f"runs/{a}", diff=b)
    assert diff["code_changed"] and diff["params"] == [{"key": "C", "a": 0.1, "b": 10.0, "changed": True}]
    assert "C" in diff["text"]
    status, err = await api("runs/nosuchrun")
    assert status == 404 and "no run" in err["error"] and err["hint"]


async def test_models_versions_card_audit(lab: dict[str, Any], api: Any) -> None:
    _, models = await api("models")
    assert [m["name"] for m in models["models"]] == ["clf"] and models["models"][0]["versions"] == 2
    _, m = await api("models/clf")
    assert [v["version"] for v in m["versions"]] == [1, 2] and m["aliases"] == {}
    _, v = await api("models/clf/versions/1")
    assert v["version"]["run_id"] == lab["runs"][1] and v["approvals"] == []
    _, card = await api("models/clf/card", ref="clf@v2")
    assert "clf" in card["title"] and "Hyperparameters" in card["markdown"]
    _, log = await api("audit", limit=3)
    assert log["entries"][0]["action"] == "grant_role" and len(log["entries"]) == 3
    status, err = await api("models/nosuch")
    assert status == 404


async def test_promote_refused_without_role_then_done_by_admin(lab: dict[str, Any], api: Any) -> None:
    body = {"model": "clf", "version": "2", "alias": "prod", "reason": "best acc"}
    _, before = await api("audit")
    status, err = await api("actions/promote", user="bob", method="POST", body=body)
    assert status == 403 and "bob has no role" in err["error"] and err["hint"]
    assert err["type"] in ("PermissionDenied", "PolicyViolation") and err["actor"] == "bob"
    _, after = await api("audit")
    assert len(after["entries"]) == len(before["entries"])  # nothing happened
    status, ok = await api("actions/promote", user="alice", method="POST", body=body)
    assert status == 200 and ok["ref"] == "clf@v2" and ok["aliases"] == ["prod"]
    _, m = await api("models/clf")
    assert m["aliases"] == {"prod": 2}
    _, log = await api("audit", model="clf", limit=1)
    assert log["entries"][0]["actor"] == "alice" and log["entries"][0]["action"] == "promote"


async def test_rollback_and_its_refusal(lab: dict[str, Any], api: Any) -> None:
    for v in ("1", "2"):
        await api("actions/promote", method="POST", body={"model": "clf", "version": v, "alias": "prod"})
    body = {"model": "clf", "alias": "prod", "reason": "v2 misbehaves"}
    status, err = await api("actions/rollback", user="dave", method="POST", body=body)
    assert status == 403 and "deployer" in err["error"]
    status, ok = await api("actions/rollback", method="POST", body=body)
    assert status == 200 and ok["ref"] == "clf@v1"
    status, err = await api("actions/rollback", method="POST", body={"model": "clf", "alias": "prod"})
    assert status == 400 and "reason" in err["error"]


async def test_request_approve_reject(lab: dict[str, Any], api: Any) -> None:
    req = {"model": "clf", "version": "2", "alias": "staging", "reason": "ready"}
    status, err = await api("actions/request", user="bob", method="POST", body=req)
    assert status == 403
    _, r = await api("actions/request", user="dave", method="POST", body=req)
    status, err = await api("actions/approve", user="dave", method="POST",
                            body={"request_id": r["request_id"]})
    assert status == 403
    status, ok = await api("actions/approve", user="carol", method="POST",
                           body={"request_id": r["request_id"], "comment": "looks good"})
    assert status == 200
    _, m = await api("models/clf")
    assert m["requests"][0]["approvals"] == 1
    _, r2 = await api("actions/request", user="dave", method="POST", body={**req, "version": "1"})
    status, ok = await api("actions/reject", user="carol", method="POST", body={"request_id": r2["request_id"]})
    assert status == 200 and ok["status"] == "rejected"
    status, err = await api("actions/approve", user="carol", method="POST", body={"request_id": "nope"})
    assert status == 404


async def test_pipelines_and_run_now(lab: dict[str, Any], api: Any, jp_root_dir: Path) -> None:
    import nbops
    from nbops.pipelines import add_schedule

    with nbops.open(jp_root_dir) as ws:
        add_schedule("nightly", str(jp_root_dir / lab["notebook"]), cron="0 3 * * *", ws=ws, actor="alice")
    _, p = await api("pipelines")
    assert [s["name"] for s in p["schedules"]] == ["nightly"] and p["schedules"][0]["next_run"]
    assert p["runs"] == []
    status, err = await api("schedules/nightly/run", user="bob", method="POST", body={})
    assert status == 403 and "contributor" in err["error"]
    status, ok = await api("schedules/nightly/run", user="dave", method="POST", body={})
    assert status == 200 and ok["trigger_id"]
    status, err = await api("schedules/nosuch/run", method="POST", body={})
    assert status == 404
    status, err = await api("pipelines/runs/nosuch/notebook")
    assert status == 404


async def test_openapi_unknown_and_unauthenticated(lab: dict[str, Any], api: Any, jp_fetch: Any,
                                                    http_server_client: Any, jp_base_url: str) -> None:
    _, doc = await api("openapi.json")
    assert doc["openapi"].startswith("3.") and "/actions/promote" in doc["paths"]
    status, err = await api("nosuch")
    assert status == 404 and "openapi.json" in err["hint"]
    with pytest.raises(HTTPClientError) as info:
        await http_server_client.fetch(f"{jp_base_url}nbops/api/v1/runs", raise_error=True)
    assert info.value.code == 403
    with pytest.raises(HTTPClientError) as info:
        await http_server_client.fetch(f"{jp_base_url}nbops/api/v1/actions/promote", method="POST",
                                       body="{}", raise_error=True)
    assert info.value.code == 403


async def test_no_workspace_is_404_with_a_hint(api: Any, jp_root_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NBOPS_HOME", raising=False)
    status, err = await api("runs")
    assert status == 404 and "nbops init" in err["hint"]
