"""The demo's production loop: A/B traffic, delayed outcomes, drift, alert-triggered retraining, conclusion."""

from __future__ import annotations

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
    """Answer each user through the experiment; every answer is logged for monitoring."""
    import nbops.monitor as mon

    exp = demo.state["experiment"]
    served = exp.predict(ids, X)
    for variant, ref in exp.variants.items():
        mask = (served["variant"] == variant).to_numpy()
        if mask.any():
            served.loc[mask, "request_id"] = mon.log_predictions(
                ref, X[mask], served.loc[mask, "prediction"].astype(int).to_numpy(), ws=demo.ws)
    mon.flush(demo.ws)
    return served


def ab_test(demo: Demo) -> bool:
    """Production vs challenger, 50/50 by a hash of the user id, to simulated users."""
    import nbops

    rng = np.random.default_rng(7)
    demo.state["rng"] = rng
    exp = nbops.ab.create(EXPERIMENT, variants={"control": f"{MODEL}@production",
                                                "treatment": f"{MODEL}@challenger"},
                          weights={"control": 0.5, "treatment": 0.5}, unit="user_id",
                          metric={"name": "follow_up_booked", "kind": "binary"},
                          guardrails=[{"error_rate": 0.01}], salt="demo", ws=demo.ws)
    exp.start()
    demo.state["experiment"] = exp
    ids, X = _users(demo, 0, N_USERS, 0.0, rng)
    served = _serve(demo, ids, X)
    demo.state["served"] = [served]
    counts = served["variant"].value_counts().to_dict()
    demo.say(f"{len(served)} users served: {counts}")
    _outcomes(demo, served)
    return set(counts) == {"control", "treatment"}


def _outcomes(demo: Demo, served: pd.DataFrame) -> None:
    """Later: the true diagnosis of each prediction, and whether the user booked a follow-up."""
    import nbops.monitor as mon

    rng = demo.state["rng"]
    y = demo.state["y_test"]
    truth = rng.choice(y.to_numpy(), len(served))
    mon.log_outcomes(served["request_id"].tolist(), truth, ws=demo.ws)
    mon.flush(demo.ws)
    rate = np.where(served["variant"] == "treatment", BASE_RATE + TRUE_LIFT, BASE_RATE)
    booked = rng.random(len(served)) < rate
    demo.state["experiment"].log_outcomes(served.loc[booked, "unit_id"], np.ones(int(booked.sum())))


def drift(demo: Demo) -> bool:
    """A drift rule on production; shifted traffic makes it fire and trigger the retraining."""
    import nbops.monitor as mon

    mon.add_rule("cancer-drift", model=f"{MODEL}@production", metric="drift_share", comparison=">",
                 threshold=0.1, window="1h", min_samples=500, severity="critical",
                 channels=["log:alerts.jsonl"], trigger_schedule=SCHEDULE, ws=demo.ws)
    calm = mon.check(ws=demo.ws)
    demo.say(f"before the shift: {len(calm.fired)} alert(s) fired")
    ids, X = _users(demo, N_USERS, N_USERS, 0.6, demo.state["rng"])
    served = _serve(demo, ids, X)
    demo.state["served"].append(served)
    _outcomes(demo, served)
    fired = mon.check(ws=demo.ws, now=datetime.now(UTC) + timedelta(seconds=1))
    demo.say(f"{len(served)} users with shifted measurements ({', '.join(SHIFTED[:2])}, ...): "
             f"fired {fired.fired}, triggered {fired.triggers}")
    demo.facts["alert"] = ", ".join(fired.fired) or "none"
    return calm.fired == [] and "cancer-drift" in fired.fired and bool(fired.triggers)


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

    exp = demo.state["experiment"]
    report = exp.report()
    print("    " + str(report).replace("\n", "\n    "))
    demo.section("A/B experiment", f"<pre>{report}</pre>")
    if report.winner is None:
        return False
    target = exp.pinned()[report.winner]
    version = registry.resolve(target, ws=demo.ws).version
    request = governance.request_promotion(MODEL, version, "production",
                                           f"won {EXPERIMENT}", ws=demo.ws)
    governance.approve(request, "A/B winner", ws=demo.ws, actor=REVIEWER)
    exp.conclude(report.winner, promote="perform", reason=f"won {EXPERIMENT}")
    now = registry.resolve(f"{MODEL}@production", ws=demo.ws)
    demo.facts["A/B winner"] = f"{report.winner} ({target})"
    demo.facts["production now"] = now.ref
    demo.section("Model", show.model(MODEL, ws=demo.ws).to_html(include_plotlyjs=False))
    return now.version == version
