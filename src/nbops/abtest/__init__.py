"""A/B testing between registered model versions: assignment, experiments, statistics.

``nbops.ab`` is this package::

    exp = nbops.ab.create("churn-v2", variants={"control": "churn@production",
                                                "treatment": "churn@challenger"},
                          weights={"control": 0.5, "treatment": 0.5}, unit="user_id",
                          metric="converted", guardrails=[{"error_rate": 0.02}])
    exp.start()
    out = exp.predict(users.user_id, features)      # prediction + variant per row
    exp.log_outcomes(conversions.user_id, conversions.converted)
    print(exp.report())

The statistics are pure functions in :mod:`nbops.abtest.stats`.
"""

from __future__ import annotations

from nbops.abtest.api import create, experiments, get
from nbops.abtest.experiments import Experiment
from nbops.abtest.report import Decision, Report
from nbops.abtest.spec import Guardrail, Metric

__all__ = ["Decision", "Experiment", "Guardrail", "Metric", "Report", "create", "experiments", "get"]
