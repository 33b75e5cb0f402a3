"""The demo's production loop: A/B traffic, delayed outcomes, drift, alert-triggered retraining, conclusion."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from nbops.demo import Demo
from nbops.demo.steps import MODEL, REVIEWER, SCHEDULE

EXPERIMENT = "cancer-followup"
N_USERS = 6000          # per phase: normal traffic, then shifted traffic
BASE_RATE = 0.10        # follow-up booked after a control answer
TRUE_LIFT = 0.05        # planted: the challenger's users book 5 points more often
SHIFTED = ["mean radius", "mean perimeter", "mean area", "worst radius", "worst area"]
BATCH = 50              # users per HTTP request


def _users(demo: Demo, start: int, n: int, shift: float, rng: np.random.Generator) -> tuple[Any, pd.DataFrame]:
    """Simulated patients like the training data (resampled, with 1 % measurement noise);
    ``shift`` scales some measurements, as a new scanner might."""
    X = demo.state["X_train"]
    rows = X.iloc[rng.integers(0, len(X), n)].reset_index(drop=True)
    rows = rows * rng.normal(1.0, 0.01, rows.shape)
    if shift:
        rows[SHIFTED] = rows[SHIFTED] * (1.0 + shift)
    ids = np.array([f"user-{i}" for i in range(start, start + n)])
    return ids, rows


def _serve(demo: Demo, ids: Any, X: pd.DataFrame) -> pd.DataFrame:
    """Users call the model server's experiment endpoint (50 users per request); the server
    assigns each a variant, answers, and logs every prediction for monitoring."""
    client = demo.state["server"].client
    out = []
    for start in range(0, len(ids), BATCH):
        rows = X.iloc[start:start + BATCH]
        body = {"user_id": list(ids[start:start + BATCH]),
                **{c: rows[c].round(6).tolist() for c in rows.columns}}
        answer = client.post(f"/v1/experiments/{EXPERIMENT}/predict", json=body)
        answer.raise_for_status()
        a = answer.json()
        out.append(pd.DataFrame({"unit_id": body["user_id"], "variant": a["variants"],
                                 "prediction": a["predictions"], "request_id": a["request_ids"]}))
    return pd.concat(out, ignore_index=True)


def ab_test(demo: Demo) -> bool:
    """Production vs challenger, 50/50 by a hash of the user id, to simulated users over HTTP."""
    import nbops
    from nbops.demo.server import start_server

    rng = np.random.default_rng(7)
    demo.state["rng"] = rng
    exp = nbops.ab.create(EXPERIMENT, variants={"control": f"{MODEL}@production",
                                                "treatment": f"{MODEL}@challenger"},
                          weights={"control": 0.5, "treatment": 0.5}, unit="user_id",
                          metric={"name": "follow_up_booked", "kind": "binary"},
                          guardrails=[{"error_rate": 0.01}], salt="demo", ws=demo.ws)
    exp.start()
    demo.state["experiment"] = exp
    demo.state["server"] = server = start_server(demo)
    demo.say(f"nbops serve on {server.url} (pid {server.process.pid}); an API key for "
             f"{demo.ws.settings.user}")
    ids, X = _users(demo, 0, N_USERS, 0.0, rng)
    served = _serve(demo, ids, X)
    demo.state["served"] = [served]
    counts = served["variant"].value_counts().to_dict()
    demo.say(f"{len(served)} users served in {len(served) // BATCH} requests: {counts}")
    _outcomes(demo, served)
    return set(counts) == {"control", "treatment"}


def _outcomes(demo: Demo, served: pd.DataFrame) -> None:
    """Later: the confirmed diagnosis of each prediction (joined by request id for monitoring),
    and, through the server, which users booked a follow-up (the experiment's metric)."""
    import nbops.monitor as mon

    rng = demo.state["rng"]
    y = demo.state["y_test"]
    truth = rng.choice(y.to_numpy(), len(served))
    mon.log_outcomes(served["request_id"].tolist(), truth, ws=demo.ws)
    mon.flush(demo.ws)
    rate = np.where(served["variant"] == "treatment", BASE_RATE + TRUE_LIFT, BASE_RATE)
    booked = served.loc[rng.random(len(served)) < rate, "unit_id"]
    body = [{"experiment": EXPERIMENT, "unit_id": u, "value": 1} for u in booked]
    demo.state["server"].client.post("/v1/outcomes", json=body).raise_for_status()


def drift(demo: Demo) -> bool:
    """A drift rule on production; shifted traffic makes it fire and trigger the retraining."""
    import nbops.monitor as mon

    mon.add_rule("cancer-drift", model=f"{MODEL}@production", metric="drift_share", comparison=">",
                 threshold=0.1, window="1h", min_samples=500, severity="critical",
                 channels=["log:alerts.jsonl"], trigger_schedule=SCHEDULE, ws=demo.ws)
    _wait_logged(demo, N_USERS)
    calm = mon.check(ws=demo.ws)
    demo.say(f"before the shift: {len(calm.fired)} alert(s) fired")
    ids, X = _users(demo, N_USERS, N_USERS, 0.6, demo.state["rng"])
    served = _serve(demo, ids, X)
    demo.state["served"].append(served)
    _outcomes(demo, served)
    demo.state.pop("server").stop()  # writes what it still holds: log rows, exposures, outcomes
    fired = mon.check(ws=demo.ws, now=datetime.now(UTC) + timedelta(seconds=1))
    demo.say(f"{len(served)} users with shifted measurements ({', '.join(SHIFTED[:2])}, ...): "
             f"fired {fired.fired}, triggered {fired.triggers}")
    demo.facts["alert"] = ", ".join(fired.fired) or "none"
    return calm.fired == [] and "cancer-drift" in fired.fired and bool(fired.triggers)


def _wait_logged(demo: Demo, n: int, timeout: float = 60.0) -> None:
    """The server hands its rows to the prediction logger, which writes them every few seconds."""
    from nbops.monitor.files import LogFiles, any_files, scan_sql

    files = LogFiles.for_settings(demo.ws.settings)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any_files(files, "predictions", MODEL):
            logged = demo.ws.sql(f"SELECT count(*) AS n FROM {scan_sql(files.glob('predictions', MODEL))}")
            if int(logged["n"][0]) >= n:
                return
        time.sleep(0.5)
    raise RuntimeError(f"the server's prediction log did not reach {n} rows in {timeout:.0f} s")


def retrain(demo: Demo) -> bool:
    """The scheduler runs the triggered retraining; its gates decide what may deploy."""
    from nbops import gates, governance, registry
    from nbops.pipelines.scheduler import Scheduler

    fires = Scheduler(demo.ws).run_once()
    demo.say(f"scheduler ran {[f.schedule.name for f in fires]}")
    runs = demo.ws.sql("SELECT pipeline_run_id, status FROM v_pipeline_runs ORDER BY started_at")
    if not len(runs) or runs["status"].iloc[-1] != "succeeded":
        return False
    latest = registry.resolve(f"{MODEL}@latest", ws=demo.ws)
    checked = gates.results(latest.ref, ws=demo.ws)
    for _, g in checked.iterrows():
        demo.say(f"  gate {g['gate']:<22} {'passed' if g['passed'] else 'FAILED'}  {g['summary'] or ''}")
    pending = governance.pending(MODEL, ws=demo.ws)
    filed = pending[pending["version"] == latest.version]
    demo.say(f"{latest.ref} passed {int(checked['passed'].sum())}/{len(checked)} gates; "
             f"promotion request {', '.join(filed['request_id'].str[:8]) or 'none'} waits for a reviewer")
    demo.facts["retrained"] = f"{latest.ref}: {int(checked['passed'].sum())}/{len(checked)} gates passed"
    demo.section("Validation gates", checked.to_html(index=False))
    return bool(len(checked)) and bool(checked["passed"].all()) and len(filed) == 1


def conclude(demo: Demo) -> bool:
    """The report names the winner; its promotion to production goes through the policy."""
    from nbops import governance, registry, show
    from nbops.demo.server import start_server

    exp = demo.state["experiment"]
    report = exp.report()
    print("    " + str(report).replace("\n", "\n    "))
    demo.section("A/B experiment", show.ab(exp, ws=demo.ws).to_html(include_plotlyjs=False))
    if report.winner is None:
        return False
    server = start_server(demo)
    before = _production_version(demo, server)
    target = exp.pinned()[report.winner]
    version = registry.resolve(target, ws=demo.ws).version
    request = governance.request_promotion(MODEL, version, "production",
                                           f"won {EXPERIMENT}", ws=demo.ws)
    governance.approve(request, "A/B winner", ws=demo.ws, actor=REVIEWER)
    exp.conclude(report.winner, promote="perform", reason=f"won {EXPERIMENT}")
    now = registry.resolve(f"{MODEL}@production", ws=demo.ws)
    after = _production_version(demo, server, wait_for=now.version)
    demo.say(f"the running server answered {MODEL}@production with v{before}, and after the "
             f"promotion with v{after} (reloaded, no restart)")
    demo.facts["A/B winner"] = f"{report.winner} ({target})"
    demo.facts["production now"] = now.ref
    demo.section("Model", show.model(MODEL, ws=demo.ws).to_html(include_plotlyjs=False))
    demo.section("Monitoring", show.monitor(f"{MODEL}@v1", window="1h", ws=demo.ws)
                 .to_html(include_plotlyjs=False))
    return now.version == version == after


def _production_version(demo: Demo, server: Any, wait_for: int | None = None) -> int:
    """The version the server answers ``cancer@production`` with (polling until ``wait_for``)."""
    patient = {c: float(v) for c, v in demo.state["X_test"].iloc[0].items()}
    deadline = time.monotonic() + 30
    while True:
        answer = server.client.post(f"/v1/models/{MODEL}@production/predict", json=patient)
        answer.raise_for_status()
        served = int(answer.json()["version"])
        if wait_for is None or served == wait_for or time.monotonic() > deadline:
            return served
        time.sleep(0.25)
