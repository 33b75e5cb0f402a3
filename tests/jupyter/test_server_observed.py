"""Alerts, experiments, model cards and output notebooks through the REST API (pytest-jupyter)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("jupyter_server")
pytest.importorskip("pytest_jupyter")

from sidebar_support import add_alerts_and_experiment, add_pipeline_run  # noqa: E402
from tornado.httpclient import HTTPClientError  # noqa: E402


@pytest.fixture
def watched(lab: dict[str, Any], jp_root_dir: Path) -> dict[str, Any]:
    return {**lab, **add_alerts_and_experiment(jp_root_dir)}


async def test_alerts_history_and_acknowledge(watched: dict[str, Any], api: Any, http_server_client: Any,
                                             jp_base_url: str) -> None:
    assert watched["fired"] == ["clf-volume"]
    status, a = await api("alerts")
    assert status == 200 and a["firing"] == 1 and a["acknowledged"] == 0
    assert [x["rule_name"] for x in a["alerts"]] == ["clf-volume"]
    alert = a["alerts"][0]
    assert alert["state"] == "firing" and alert["severity"] == "critical" and alert["value"] == 8
    assert alert["model"] == "clf@v1" and "volume is > 5" in alert["message"]
    assert sorted(r["name"] for r in a["rules"]) == ["clf-errors", "clf-volume"]
    _, h = await api("alerts/history", rule="clf-volume")
    assert [e["state"] for e in h["events"]] == ["firing"]
    status, err = await api("alerts/history", limit=0)
    assert status == 400 and "limit" in err["error"]

    # Acknowledging is refused to a viewer and to a user without a role, done by a contributor.
    for user in ("erin", "bob"):  # a viewer, and a user without a role
        status, err = await api("alerts/clf-volume/ack", user=user, method="POST", body={"note": "mine"})
        assert status == 403 and err["type"] == "PermissionDenied" and err["actor"] == user
        assert "contributor" in err["error"] and err["hint"]
    with pytest.raises(HTTPClientError) as info:  # without Jupyter's token
        await http_server_client.fetch(f"{jp_base_url}nbops/api/v1/alerts/clf-volume/ack", method="POST",
                                       body="{}", raise_error=True)
    assert info.value.code == 403
    _, a = await api("alerts")
    assert a["firing"] == 1  # nothing changed
    status, ok = await api("alerts/clf-volume/ack", user="dave", method="POST", body={"note": "on it"})
    assert status == 200 and ok["state"] == "acknowledged"
    _, a = await api("alerts")
    assert a["firing"] == 0 and a["acknowledged"] == 1
    assert a["alerts"][0]["actor"] == "dave" and a["alerts"][0]["message"] == "on it"
    _, log = await api("audit", limit=1)
    assert log["entries"][0]["actor"] == "dave" and log["entries"][0]["target"] == "clf-volume"
    status, err = await api("alerts/clf-volume/ack", user="dave", method="POST", body={})
    assert status == 400 and "no firing alert" in err["error"]


async def test_experiments_list_and_report(watched: dict[str, Any], api: Any) -> None:
    status, ex = await api("experiments")
    assert status == 200 and [e["name"] for e in ex["experiments"]] == ["clf-ab"]
    assert ex["experiments"][0]["status"] == "running"
    assert ex["experiments"][0]["variants"] == {"control": "clf@v1", "treatment": "clf@v2"}
    _, none = await api("experiments", status="concluded")
    assert none["experiments"] == []
    status, d = await api("experiments/clf-ab")
    assert status == 200 and d["experiment"]["pinned"] == {"control": "clf@v1", "treatment": "clf@v2"}
    rep = d["report"]
    assert rep["decision"] == "winner" and rep["winner"] == "treatment"
    assert sum(rep["units"].values()) == 600 and not rep["srm"]["mismatch"]
    (c,) = rep["comparisons"]
    assert c["variant"] == "treatment" and c["lift"] > 0.2 and c["ci"][0] > 0 and c["p_better"] > 0.99
    _, strict = await api("experiments/clf-ab", min_units=1000)
    assert strict["report"]["decision"] == "not enough data"
    status, err = await api("experiments/clf-ab", alpha="x")
    assert status == 400 and "alpha" in err["error"]
    status, err = await api("experiments/nosuch")
    assert status == 404 and "nbops ab list" in err["hint"]
    _, doc = await api("openapi.json")
    assert {"/alerts", "/alerts/history", "/alerts/{rule}/ack", "/experiments",
            "/experiments/{name}"} <= set(doc["paths"])


async def test_card_sections_for_the_ui(lab: dict[str, Any], api: Any) -> None:
    status, card = await api("models/clf/card", ref="clf@v1")
    assert status == 200 and card["title"].endswith("clf@v1")
    headings = [s["heading"] for s in card["sections"]]
    assert "Version" in headings and "Hyperparameters" in headings
    version = next(s for s in card["sections"] if s["heading"] == "Version")["blocks"][0]["table"]
    assert version["head"] == ["field", "value"] and ["run", lab["runs"][1][:12]] in version["rows"]
    status, err = await api("models/clf/card", ref="clf@v9")
    assert status == 404


async def test_output_notebook_of_a_pipeline_run(lab: dict[str, Any], api: Any, jp_root_dir: Path) -> None:
    run_id = add_pipeline_run(jp_root_dir)
    _, p = await api("pipelines")
    (row,) = p["runs"]
    assert row["pipeline_run_id"] == run_id and row["output_key"] and row["status"] == "succeeded"
    status, out = await api(f"pipelines/runs/{run_id}/notebook")
    assert status == 200 and out["notebook"]["nbformat"] == 4
    assert "squared 4" in "".join(out["notebook"]["cells"][-1]["outputs"][0]["text"])
