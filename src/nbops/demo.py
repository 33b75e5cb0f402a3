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
    print(f"done in {time.perf_counter() - t0:.1f} s. Explore with:  cd {directory} && "
          f"../.venv/bin/nbops runs  |  nbops show {best['run_id']}  |  nbops sql \"SELECT * FROM v_artifacts\"")
    ws.close()
    return 0 if abs(reloaded_acc - best["metric.accuracy"]) < 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
