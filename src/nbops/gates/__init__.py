"""Validation gates: check a candidate model version before it is promoted.

::

    from nbops import gates
    result = gates.validate("churn@v5", data=(X, y), against="churn@production",
                            rules=[gates.metric("accuracy", min=0.8, max_drop=0.01),
                                   gates.slices("region", max_drop=0.02),
                                   gates.schema(), gates.nulls(), gates.drift(max_share=0.3)],
                            promote_to="production")

Each rule is one gate, recorded on the version (table ``validations``) under its name;
``Policy.gates`` lists the names a promotion requires. See docs/gates.md.
"""

from __future__ import annotations

from nbops.gates.context import GateContext
from nbops.gates.data_rules import check, drift, nulls, schema
from nbops.gates.metrics import METRICS
from nbops.gates.report import GateOutcome, GatesFailed, ValidationResult
from nbops.gates.results import results
from nbops.gates.rules import Rule, metric, slices
from nbops.gates.validate import validate

__all__ = ["METRICS", "GateContext", "GateOutcome", "GatesFailed", "Rule", "ValidationResult", "check",
           "drift", "metric", "nulls", "results", "schema", "slices", "validate"]
