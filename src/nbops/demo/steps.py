"""The demo's first and last steps: %%track training, registry under policy, a schedule, the audit."""

from __future__ import annotations

import shutil
from typing import Any

from nbops.demo import EXAMPLES, Demo

MODEL = "cancer"
REVIEWER = "reviewer-rita"
SCHEDULE = "retrain-cancer"

# The notebook a data scientist would write: one tracked cell loads the data, one per candidate.
_LOAD = """%%track -n load-data
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
data = load_breast_cancer(as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(
    data.data, data.target, test_size=0.25, random_state=0, stratify=data.target)
"""
_FIT = """%%track -n {name}
{params}
model = {estimator}.fit(X_train, y_train)
accuracy = accuracy_score(y_test, model.predict(X_test))
roc_auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
"""
CANDIDATES = [
    ("logreg", "C = 0.05", "LogisticRegression(C=C, max_iter=5000)"),
    ("logreg", "C = 1.0", "LogisticRegression(C=C, max_iter=5000)"),
    ("forest", "n_estimators = 100\nmax_depth = 4",
     "RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=0)"),
    ("boosting", "n_estimators = 100\nlearning_rate = 0.1",
     "GradientBoostingClassifier(n_estimators=n_estimators, learning_rate=learning_rate, random_state=0)"),
]


def _shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbops")
    return ip


def _cell(ip: Any, source: str, cell_id: str) -> None:
    result = ip.run_cell(source, store_history=True, cell_id=cell_id)
    if not result.success:
        raise RuntimeError(f"demo cell {cell_id} failed: {result.error_in_exec or result.error_before_exec}")


def train(demo: Demo) -> bool:
    """Each candidate is a %%track cell: code, data, params, metrics and model recorded."""
    ip = _shell()
    _cell(ip, _LOAD, "load")
    for i, (name, params, estimator) in enumerate(CANDIDATES):
        _cell(ip, _FIT.format(name=name, params=params, estimator=estimator), f"fit-{i}")
    ip.magics_manager.registry["NbopsMagics"].session.flush()
    runs = demo.ws.runs(sort="metric.roc_auc").query("name != 'load-data'")
    demo.state.update(shell=ip, X_test=ip.user_ns["X_test"], y_test=ip.user_ns["y_test"],
                      X_train=ip.user_ns["X_train"])
    best, second = runs.iloc[0], runs.iloc[1]
    demo.state.update(best=best["run_id"], second=second["run_id"])
    demo.facts["candidates"] = len(runs)
    demo.facts["best"] = f"{best['name']} (roc_auc {best['metric.roc_auc']:.4f})"
    demo.say(f"{len(runs)} candidates tracked; best {demo.facts['best']}, "
             f"runner-up {second['name']} ({second['metric.roc_auc']:.4f})")
    print(f"    %nbops diff {second['run_id']} {best['run_id']}:")
    ip.run_line_magic("nbops", f"diff {second['run_id']} {best['run_id']}")
    from nbops import show

    demo.section("Runs", show.runs(ws=demo.ws).to_html(include_plotlyjs=False))
    return len(runs) == len(CANDIDATES)


def govern(demo: Demo) -> bool:
    """Register the best as v1 (production, with an approval) and the runner-up as the challenger."""
    from nbops import governance, registry
    from nbops.governance.errors import PolicyViolation

    ws, me = demo.ws, demo.ws.settings.user
    v1 = registry.register(f"{demo.state['best']}/model", MODEL, ws=ws,
                           description="breast cancer classifier from the demo")
    v2 = registry.register(f"{demo.state['second']}/model", MODEL, ws=ws, description="runner-up")
    governance.grant(REVIEWER, "reviewer", ws=ws)
    # One reviewer's approval to reach production; a retrained version whose gates all pass
    # files its own promotion request.
    governance.set_policy(MODEL, "production", {"required_approvals": 1, "on_pass": "request"},
                          ws=ws)
    try:
        registry.promote(MODEL, v1.version, "production", ws=ws)
        return False  # the policy should have refused
    except PolicyViolation as refused:
        demo.say(f"promote without approval refused: {refused.message}")
    request = governance.request_promotion(MODEL, v1.version, "production", "best ROC AUC", ws=ws)
    governance.approve(request, "metrics look right", ws=ws, actor=REVIEWER)
    registry.promote(MODEL, v1.version, "production", "approved", ws=ws)
    registry.promote(MODEL, v2.version, "challenger", "A/B candidate", ws=ws)
    demo.say(f"{MODEL}@production -> v{v1.version} (requested by {me}, approved by {REVIEWER}); "
             f"{MODEL}@challenger -> v{v2.version}")
    demo.facts["production"] = f"{MODEL}@v{v1.version}"
    return registry.resolve(f"{MODEL}@production", ws=ws).version == v1.version


def schedule(demo: Demo) -> bool:
    """The retraining notebook as a nightly schedule (the alert will also trigger it)."""
    from nbops.pipelines import schedules

    notebook = demo.root / "retrain.ipynb"
    shutil.copyfile(EXAMPLES / "03_retraining_pipeline.ipynb", notebook)
    row = schedules.add_schedule(SCHEDULE, str(notebook), cron="0 3 * * *", ws=demo.ws,
                                 parameters={"n_estimators": 120, "model_name": MODEL},
                                 cwd=str(demo.root))
    demo.say(f"schedule {row.name}: {row.notebook} every night at 03:00 {row.tz}, "
             f"parameters {row.parameters}")
    return True


def audit(demo: Demo) -> bool:
    """Trace one answered request back to its training cell, then verify the audit chain."""
    from nbops import governance

    served = demo.state.get("served")
    if served:
        request_id = str(served[0]["request_id"].iloc[0])
        t = governance.trace(request_id, ws=demo.ws)
        lines = str(t).splitlines()
        demo.say(f"nbops trace {request_id}:")
        for line in lines[:5] + [ln for ln in lines if ln.startswith("trained by")]:
            demo.say(f"  {line}")
        demo.facts["traced request"] = (f"{request_id[:12]}… → {t.version.ref if t.version else '?'} "
                                        f"→ run {t.run['run_id'] if t.run else '?'}")
    verdict = governance.verify_audit(ws=demo.ws)
    log = governance.audit_log(ws=demo.ws)
    demo.facts["audit"] = f"{len(log)} entries, {'intact' if verdict.ok else 'BROKEN'}"
    demo.say(str(verdict))
    return bool(verdict.ok)
