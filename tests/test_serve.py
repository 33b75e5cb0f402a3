"""The model server over real HTTP on loopback (uvicorn in a thread): routing, input schema,
API keys and roles, alias reload, outcomes, shadow logging and guardrails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from serve_support import Server, register_churn, serving, wait_for

import nbops
from nbops import governance, registry
from nbops.catalog.abtest import ExperimentRepository
from nbops.catalog.abtest_records import FileKind
from nbops.cli import main
from nbops.serve import ServeConfig, create_key, revoke_key
from nbops.workspace import Workspace

ROW = {"age": 30, "spend": 1.5}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    project = tmp_path_factory.mktemp("serve")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NBOPS_USER", "tester")
        mp.setenv("NBOPS_HOME", str(project / ".nbops"))
        mp.chdir(project)
        w = Workspace.open(create=True)
        register_churn(w)
        governance.grant("alice", "viewer", ws=w)
        governance.grant("carol", "contributor", ws=w)
        yield w
        w.close()


@pytest.fixture(scope="module")
def keys(ws: Workspace) -> dict[str, str]:
    return {u: create_key(ws, u, actor="tester") for u in ("tester", "alice", "bob", "carol")}


@pytest.fixture(scope="module")
def srv(ws: Workspace, keys: dict[str, str]) -> Iterator[Server]:
    alerts = ws.settings.home.parent / "alerts.jsonl"
    config = ServeConfig(reload_interval_s=0.3, flush_interval_s=0.3, check_interval_s=0.5,
                         alert_channels=[f"log:{alerts}"], actor="tester")
    with serving(ws, config) as s:
        yield s


def _flush(srv: Server) -> None:
    srv.state.requests.drain()
    srv.state.logger.flush()
    srv.state.experiments.flush()


def _predictions(ws: Workspace) -> pd.DataFrame:
    glob = f"{ws.settings.data_path.rstrip('/')}/monitor/predictions/**/*.parquet"
    return ws.catalog.query(f"SELECT * FROM read_parquet('{glob}', union_by_name = true, "
                            "hive_partitioning = true)")


def _experiment_rows(ws: Workspace, name: str, kind: FileKind) -> pd.DataFrame:
    files = ExperimentRepository(ws.catalog).files(name, kind)
    return ws.catalog.query("SELECT * FROM read_parquet(?)", [files]) if files else pd.DataFrame()


def test_routes_by_alias_version_and_latest(srv: Server, keys: dict[str, str]) -> None:
    with srv.client(keys["alice"]) as c:
        r = c.post("/v1/models/churn@production/predict", json=ROW)
        assert r.status_code == 200 and r.json()["version"] == 1 and r.json()["predictions"] in ([0], [1])
        assert r.json()["request_id"] == r.headers["x-request-id"]
        assert c.post("/v1/models/churn@v2/predict", json=[ROW, ROW]).json()["predictions"] == [1, 1]
        assert c.post("/v1/models/churn/predict", json={"age": [30], "spend": [0.1], "extra": [1.0]}).json()["version"] == 3
        missing = c.post("/v1/models/churn@nosuch/predict", json=ROW)
        assert missing.status_code == 404 and "nosuch" in missing.json()["error"] and missing.json()["hint"]
        assert c.post("/v1/models/nomodel/predict", json=ROW).status_code == 404
        listed = c.get("/v1/models").json()
        assert listed["serving"]["churn@production"] == "churn@v1"
        assert [m["name"] for m in listed["models"]] == ["churn"]
        assert "/v1/outcomes" in c.get("/openapi.json").json()["paths"]
        metrics = c.get("/metrics").text
        assert 'nbops_requests_total{endpoint="predict",model="churn",version="1",variant="",status="200"}' in metrics
        assert "nbops_request_duration_seconds_bucket{" in metrics


def test_schema_errors_name_the_field(srv: Server, keys: dict[str, str]) -> None:
    with srv.client(keys["alice"]) as c:
        def err(body: object) -> tuple[int, dict[str, str]]:
            r = c.post("/v1/models/churn@production/predict", json=body)
            return r.status_code, r.json()

        status, body = err({"age": 30})
        assert status == 422 and body["field"] == "spend" and "missing field 'spend'" in body["error"]
        status, body = err({"age": "thirty", "spend": 1.0})
        assert status == 422 and body["field"] == "age" and "int" in body["error"]
        status, body = err([ROW, {"age": 31, "spend": 2.0, "colour": "red"}])
        assert status == 422 and body["field"] == "colour"
        status, body = err({"age": [1, 2], "spend": [1.0]})
        assert status == 422
        r = c.post("/v1/models/churn@production/predict", content=b"{not json")
        assert r.status_code == 400 and r.json()["hint"]


def test_keys_and_roles(srv: Server, keys: dict[str, str], ws: Workspace) -> None:
    with srv.client() as anonymous:
        assert anonymous.get("/healthz").status_code == 200
        r = anonymous.post("/v1/models/churn@production/predict", json=ROW)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert anonymous.get("/metrics").status_code == 401
    with srv.client("nbk_0000_forged") as forged:
        assert forged.get("/v1/models").status_code == 401
    with srv.client(keys["bob"]) as bob:  # a key, but no role
        r = bob.post("/v1/models/churn@production/predict", json=ROW)
        assert r.status_code == 403 and "viewer" in r.json()["error"]
    with srv.client(keys["alice"]) as alice:  # viewer: predicts, may not record outcomes
        r = alice.post("/v1/outcomes", json={"request_id": "x", "value": 1})
        assert r.status_code == 403 and "contributor" in r.json()["error"]
    with srv.client(keys["carol"]) as carol:
        assert carol.post("/v1/outcomes", json={"request_id": "x", "value": 1}).status_code == 200
    # A key made by the command line works at once; a revoked one stops working.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NBOPS_HOME", str(ws.settings.home))
        mp.setenv("NBOPS_USER", "tester")
        out = CliRunner().invoke(main, ["serve", "keys", "create", "--user", "alice"])
        assert out.exit_code == 0, out.output
        denied = CliRunner().invoke(main, ["serve", "keys", "create", "--user", "bob"],
                                    env={"NBOPS_USER": "alice"})
        assert denied.exit_code != 0 and "admin" in denied.output
    key = out.output.splitlines()[0].strip()
    with srv.client(key) as c:
        assert c.post("/v1/models/churn@production/predict", json=ROW).status_code == 200
        revoke_key(ws, key.split("_")[1], actor="tester")
        wait_for(lambda: c.get("/v1/models").status_code == 401, "the revoked key to be refused")
    audit = governance.audit_log(ws=ws)
    assert {"serve.key_create", "serve.key_revoke"} <= set(audit["action"])


def test_alias_move_is_served_after_promote(srv: Server, keys: dict[str, str], ws: Workspace) -> None:
    registry.promote("churn", 1, "staging", ws=ws)
    with srv.client(keys["alice"]) as c:
        assert c.post("/v1/models/churn@staging/predict", json=ROW).json()["version"] == 1
        registry.promote("churn", 2, "staging", ws=ws)
        wait_for(lambda: c.post("/v1/models/churn@staging/predict", json=ROW).json()["version"] == 2,
                 "the server to follow the alias")
        assert c.get("/v1/models").json()["serving"]["churn@staging"] == "churn@v2"


def test_outcomes_join_predictions_and_experiments(srv: Server, keys: dict[str, str], ws: Workspace) -> None:
    exp = nbops.ab.create("serve-out", {"control": "churn@production", "treatment": "churn@challenger"},
                          unit="user_id", metric="converted", ws=ws, actor="tester")
    exp.start()
    with srv.client(keys["carol"]) as c:
        rid = c.post("/v1/models/churn@production/predict", json=ROW).json()["request_id"]
        routed = c.post("/v1/experiments/serve-out/predict", json={**ROW, "user_id": "u7"}).json()
        assert routed["variant"] in ("control", "treatment")
        c.post("/v1/experiments/serve-out/predict", json=ROW, params={"unit_id": "u8"}).raise_for_status()
        r = c.post("/v1/outcomes", json=[{"request_id": rid, "value": 1},
                                        {"request_id": routed["request_id"], "value": 1},
                                        {"experiment": "serve-out", "unit_id": "u8", "value": 0}])
        assert r.json() == {"request_id": r.json()["request_id"], "accepted": 3, "experiment_outcomes": 2}
        no_unit = c.post("/v1/experiments/serve-out/predict", json=ROW)
        assert no_unit.status_code == 422 and no_unit.json()["field"] == "user_id"
    _flush(srv)
    glob = f"{ws.settings.data_path.rstrip('/')}/monitor"
    joined = ws.catalog.query(
        f"SELECT p.request_id, p.model_version, o.y_true FROM read_parquet('{glob}/predictions/**/*.parquet', "
        f"union_by_name = true) p JOIN read_parquet('{glob}/outcomes/**/*.parquet') o USING (request_id) "
        "WHERE request_id IN (?, ?)", [rid, routed["request_id"]])
    assert sorted(joined.request_id) == sorted([rid, routed["request_id"]])
    outcomes = _experiment_rows(ws, "serve-out", FileKind.OUTCOMES)
    assert dict(zip(outcomes.unit_id, outcomes.value, strict=True)) == {"u7": 1.0, "u8": 0.0}
    exposures = _experiment_rows(ws, "serve-out", FileKind.EXPOSURES)
    assert routed["request_id"] in set(exposures.request_id)


def test_shadow_request_is_logged_for_both_variants(srv: Server, keys: dict[str, str], ws: Workspace) -> None:
    nbops.ab.create("serve-shadow", {"control": "churn@production", "treatment": "churn@challenger"},
                    mode="shadow", ws=ws, actor="tester").start()
    with srv.client(keys["alice"]) as c:
        r = c.post("/v1/experiments/serve-shadow/predict", json={**ROW, "unit_id": 42}).json()
    assert r["variant"] == "control" and r["status"] == "running"
    _flush(srv)
    rows = _predictions(ws)
    rows = rows[rows.request_id == r["request_id"]]
    assert sorted(zip(rows.variant, rows.model_version, strict=True)) == [("control", 1), ("treatment", 2)]
    assert set(rows.prediction.astype(int)) <= {0, 1} and (rows.f__age == 30).all()
    exposures = _experiment_rows(ws, "serve-shadow", FileKind.EXPOSURES)
    mine = exposures[exposures.request_id == r["request_id"]]
    assert sorted(zip(mine.variant, mine.shadow, strict=True)) == [("control", False), ("treatment", True)]


def test_guardrail_breach_stops_the_experiment_and_alerts(srv: Server, keys: dict[str, str],
                                                          ws: Workspace) -> None:
    nbops.ab.create("serve-guard", {"control": "churn@production", "treatment": "churn@broken"},
                    weights={"control": 0.1, "treatment": 0.9}, guardrails=[{"error_rate": 0.1, "min_units": 5}],
                    ws=ws, actor="tester").start()
    with srv.client(keys["alice"]) as c:
        answers = [c.post("/v1/experiments/serve-guard/predict", json={**ROW, "unit_id": f"g{i}"}).json()
                   for i in range(30)]
        assert all(a["prediction"] in (0, 1) for a in answers)  # a failing variant is answered by control
        wait_for(lambda: nbops.ab.get("serve-guard", ws=ws).status == "stopped", "the guardrail to stop it")
        after = c.post("/v1/experiments/serve-guard/predict", json={**ROW, "unit_id": "g1"}).json()
    exp = nbops.ab.get("serve-guard", ws=ws)
    assert exp.row.reason.startswith("guardrail: treatment: error rate")
    assert after["variant"] == "control" and after["status"] == "stopped"
    alerts = [json.loads(line) for line in Path(ws.settings.home.parent / "alerts.jsonl").read_text().splitlines()]
    assert [a["experiment"] for a in alerts] == ["serve-guard"] and alerts[0]["state"] == "firing"
    assert "ab.stop" in set(governance.audit_log(ws=ws)["action"])


def test_no_auth_is_refused_off_loopback(workspace_dir: Path) -> None:
    out = CliRunner().invoke(main, ["serve", "--no-auth", "--host", "0.0.0.0"])
    assert out.exit_code != 0 and "loopback" in out.output


def test_canary_follows_its_ramp_and_units_stay(srv: Server, keys: dict[str, str], ws: Workspace) -> None:
    nbops.ab.create("serve-canary", {"control": "churn@production", "treatment": "churn@challenger"},
                    mode="canary", ramp=[(0, 0.0), ("3s", 1.0)], ws=ws, actor="tester").start()
    with srv.client(keys["alice"]) as c:
        def variant(unit: str) -> str:
            return c.post("/v1/experiments/serve-canary/predict", json={**ROW, "unit_id": unit}).json()["variant"]

        early = {f"early{i}": variant(f"early{i}") for i in range(5)}
        assert "control" in early.values()  # before the ramp's step (the step may come mid-way on a slow machine)
        probes = iter(range(10_000))  # a new unit each time: a unit seen keeps its first variant
        wait_for(lambda: variant(f"probe{next(probes)}") == "treatment", "the ramp to reach the treatment")
        srv.state.experiments.flush()
        assert {variant(f"late{i}") for i in range(5)} == {"treatment"}
        assert {u: variant(u) for u in early} == early  # exposed units keep their variant
