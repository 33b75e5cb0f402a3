"""``make demo``: the main job on the embedded catalog, headless, in ./demo-workspace.

Trains and compares models on a dataset shipped with scikit-learn, records
each as a run (params, metrics per step, the training data, the fitted
model), queries them back and prints a summary. Later capabilities extend
this same loop.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path


def _progress(i: int, n: int, label: str) -> None:
    width = 24
    done = int(width * i / n)
    sys.stdout.write(f"\r  [{'#' * done}{'.' * (width - done)}] {i}/{n} {label:<40}")
    sys.stdout.flush()
    if i == n:
        sys.stdout.write("\n")


def main(directory: str = "demo-workspace") -> int:
    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    import nbops

    root = Path(directory).resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    os.environ.pop("NBOPS_HOME", None)
    t0 = time.perf_counter()
    print(f"nbops demo: workspace {root / '.nbops'}")
    ws = nbops.open(root)

    data = load_breast_cancer(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=0, stratify=data.target)
    candidates = [
        ("logreg", LogisticRegression, {"C": 1.0, "max_iter": 5000}),
        ("logreg", LogisticRegression, {"C": 0.1, "max_iter": 5000}),
        ("forest", RandomForestClassifier, {"n_estimators": 100, "max_depth": 6, "random_state": 0}),
        ("forest", RandomForestClassifier, {"n_estimators": 300, "max_depth": None, "random_state": 0}),
        ("boosting", GradientBoostingClassifier, {"n_estimators": 100, "learning_rate": 0.1, "random_state": 0}),
    ]
    print(f"training {len(candidates)} candidate models on breast_cancer ({len(X_train)} rows):")
    for i, (family, cls, params) in enumerate(candidates, start=1):
        _progress(i - 1, len(candidates), f"{family} {params}")
        with ws.run(name=family) as run:
            run.log_params({"model": family, **params})
            run.log_dataset(X_train, "X_train", role="input")
            run.log_dataset(y_train, "y_train", role="input")
            clf = cls(**params).fit(X_train, y_train)
            if hasattr(clf, "staged_predict"):
                for step, pred in enumerate(clf.staged_predict(X_test)):
                    if step % 10 == 0:
                        run.log_metric("staged_acc", accuracy_score(y_test, pred), step=step)
            proba = clf.predict_proba(X_test)[:, 1]
            run.log_metric("accuracy", accuracy_score(y_test, clf.predict(X_test)))
            run.log_metric("roc_auc", roc_auc_score(y_test, proba))
            run.log_model(clf, "classifier")
    _progress(len(candidates), len(candidates), "done")

    runs = ws.runs(sort="metric.roc_auc")
    cols = ["run_id", "name", "param.C", "param.n_estimators", "metric.accuracy", "metric.roc_auc"]
    with pd.option_context("display.width", 160, "display.max_columns", None):
        print("\nruns, best first (ws.runs(sort='metric.roc_auc')):")
        print(runs[[c for c in cols if c in runs.columns]].to_string(index=False))
    best = runs.iloc[0]
    model = ws.load(f"{best['run_id']}/classifier")
    reloaded_acc = accuracy_score(y_test, model.predict(X_test))
    stored = ws.sql("SELECT kind, count(*) AS artifacts, count(DISTINCT object_key) AS objects, "
                    "sum(size_bytes) AS bytes FROM v_artifacts GROUP BY kind ORDER BY kind")
    print("\nartifacts (the training data is stored once, whatever the number of runs):")
    print(stored.to_string(index=False))
    print(f"\nbest: run {best['run_id']} ({best['name']}), roc_auc {best['metric.roc_auc']:.4f}; "
          f"reloaded from the store, accuracy {reloaded_acc:.4f} "
          f"(recorded {best['metric.accuracy']:.4f})")
    governed = _register_and_promote(ws, best["run_id"])
    retrained = _retrain(ws)
    from nbops import governance

    verdict = governance.verify_audit(ws=ws)
    print(f"\n{verdict}")
    print(f"done in {time.perf_counter() - t0:.1f} s. Explore with:  cd {directory} && "
          f"../.venv/bin/nbops runs  |  nbops models  |  nbops audit log  |  nbops pipeline runs")
    ws.close()
    ok = abs(reloaded_acc - best["metric.accuracy"]) < 1e-12 and governed and retrained and verdict.ok
    return 0 if ok else 1


def _register_and_promote(ws: object, run_id: str) -> bool:
    """Register the best model and promote it under a policy that needs one reviewer's approval."""
    from nbops import governance, registry
    from nbops.governance.errors import PolicyViolation

    me = ws.settings.user  # type: ignore[attr-defined]
    print("\nregistry and governance:")
    mv = registry.register(f"{run_id}/classifier", "cancer", ws=ws,
                           description="breast cancer classifier from the demo")
    print(f"  registered cancer v{mv.version} from run {run_id}")
    governance.grant(me, "admin", ws=ws)
    governance.grant("reviewer-rita", "reviewer", ws=ws)
    governance.set_policy("cancer", "production", {"required_approvals": 1}, ws=ws)
    try:
        registry.promote("cancer", mv.version, "production", ws=ws)
    except PolicyViolation as refused:
        print(f"  promote without approval refused: {refused.message}")
    request = governance.request_promotion("cancer", mv.version, "production", "best ROC AUC", ws=ws)
    governance.approve(request, "metrics look right", ws=ws, actor="reviewer-rita")
    promoted = registry.promote("cancer", mv.version, "production", "approved", ws=ws)
    print(f"  approved by reviewer-rita, cancer@production -> v{promoted.version}")
    return registry.resolve("cancer@production", ws=ws).version == mv.version


def _retrain(ws: object) -> bool:
    """Run the parameterized retraining notebook as a recorded pipeline run."""
    from nbops import pipelines

    notebook = Path(__file__).resolve().parents[2] / "example_notebooks" / "03_retraining_pipeline.ipynb"
    if not notebook.is_file():
        print("\n(retraining notebook not found; skipping the pipeline step)")
        return True
    print("\nretraining pipeline (papermill, parameters injected):")
    result = pipelines.run(notebook, {"n_estimators": 120, "model_name": "cancer-rf"}, ws=ws,
                           cwd=ws.settings.home.parent)  # type: ignore[attr-defined]
    runs = ws.runs().query("pipeline_run_id == @result.id")  # type: ignore[attr-defined]
    for _, r in runs.iterrows():
        print(f"  tracked run {r['run_id']} inside pipeline run {result.id}: "
              f"accuracy {r['metric.accuracy']:.4f}, auc {r['metric.auc']:.4f}")
    return bool(result.ok) and len(runs) == 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
