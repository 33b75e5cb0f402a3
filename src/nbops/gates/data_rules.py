"""Data checks against what the candidate was trained on (schema, nulls, drift) and custom checks.

The training data is the candidate run's largest input dataset (the same reference
monitoring uses for drift); the label column (``y.name``) is left out of every check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from nbops.errors import NbopsError
from nbops.gates.context import GateContext
from nbops.gates.report import GateOutcome
from nbops.gates.rules import Rule


def _features(ctx: GateContext, frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in frame.columns if str(c) == ctx.label])


def _no_training(ctx: GateContext) -> str:
    return (f"no training data recorded for {ctx.candidate.ref} "
            "(log the training frame with run.log_dataset(..., role='input') or %%track)")


@dataclass
class SchemaRule(Rule):
    """X has exactly the training data's columns, with the same dtypes. Training columns the
    model does not take (the label, ids: not in its ``feature_names_in_``) are left out."""

    kind: ClassVar[str] = "schema"
    name: str

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        recorded = ctx.training_schema()
        expected: dict[str, str | None] | None = dict(recorded) if recorded is not None else None
        source = ctx.describe_training()
        if expected is None:
            names = getattr(ctx.model, "feature_names_in_", None)
            if names is None:
                return self.outcome(False, _no_training(ctx))
            expected, source = {str(n): None for n in names}, "the model's feature_names_in_"
        takes = getattr(ctx.model, "feature_names_in_", None)
        kept = None if takes is None else {str(n) for n in takes}
        expected = {c: t for c, t in expected.items() if c != ctx.label and (kept is None or c in kept)}
        actual = {str(c): str(t) for c, t in ctx.X.dtypes.items() if str(c) != ctx.label}
        missing = [c for c in expected if c not in actual]
        extra = [c for c in actual if c not in expected]
        changed = {c: f"{expected[c]} -> {actual[c]}" for c in expected
                   if c in actual and expected[c] is not None and expected[c] != actual[c]}
        problems = ([f"missing {missing}"] if missing else []) + ([f"unexpected {extra}"] if extra else []) \
            + ([f"dtype changed {changed}"] if changed else [])
        summary = (f"{len(actual)} columns match {source}" if not problems
                   else f"differs from {source}: " + "; ".join(problems))
        return self.outcome(not problems, summary, missing=missing, unexpected=extra, changed=changed,
                            reference=source)


@dataclass
class NullsRule(Rule):
    """No column's share of missing values grows by more than ``max_increase`` over training."""

    kind: ClassVar[str] = "nulls"
    max_increase: float
    name: str

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        train = ctx.training_data()
        if train is None:
            return self.outcome(False, _no_training(ctx))
        cur = _features(ctx, ctx.X).isna().mean()
        ref = train.isna().mean()
        rises = {str(c): {"training": float(ref.get(c, 0.0)), "now": float(share)}
                 for c, share in cur.items() if share - float(ref.get(c, 0.0)) > self.max_increase}
        if rises:
            worst = sorted(rises.items(), key=lambda kv: kv[1]["training"] - kv[1]["now"])[:5]
            text = ", ".join(f"{c} {v['training']:.1%} -> {v['now']:.1%}" for c, v in worst)
            summary = f"{len(rises)} column(s) gained more than {self.max_increase:.1%} nulls: {text}"
        else:
            summary = (f"no column gained more than {self.max_increase:.1%} nulls "
                       f"(max now {float(cur.max()) if len(cur) else 0.0:.1%})")
        return self.outcome(not rises, summary, max_increase=self.max_increase, columns=rises)


@dataclass
class DriftRule(Rule):
    """At most ``max_share`` of the columns drifted from the training data
    (``nbops.monitor.stats.drift_table``: KS / Wasserstein / chi² / Jensen–Shannon)."""

    kind: ClassVar[str] = "drift"
    max_share: float
    columns: Sequence[str] | None
    methods: dict[str, str] | None
    name: str

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        from nbops.monitor.stats import drift_table, share_drifted

        train = ctx.training_data()
        if train is None:
            return self.outcome(False, _no_training(ctx))
        cur = _features(ctx, ctx.X)
        cols = list(self.columns) if self.columns else [c for c in cur.columns if c in set(train.columns)]
        if not cols:
            return self.outcome(False, "X shares no column with the training data")
        results = drift_table(train, cur, columns=cols, methods=self.methods, threads=1)
        share = share_drifted(results)
        drifted = [r.column for r in results if r.drifted]
        shown = ", ".join(drifted[:8]) + (" ..." if len(drifted) > 8 else "")
        summary = (f"{len(drifted)} of {len(results)} columns drifted ({share:.0%}; at most "
                   f"{self.max_share:.0%} allowed)" + (f": {shown}" if drifted else ""))
        return self.outcome(share <= self.max_share, summary, share=share, max_share=self.max_share,
                            drifted=drifted, tests=[r.__dict__ for r in results])


@dataclass
class CustomRule(Rule):
    """``fn(ctx)`` returns a bool, ``(bool, details)`` or ``{"passed": bool, ...}``."""

    kind: ClassVar[str] = "custom"
    fn: Callable[[GateContext], Any]
    name: str

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        out = self.fn(ctx)
        details: dict[str, Any] = {}
        if isinstance(out, tuple) and len(out) == 2:
            out, extra = out
            details = extra if isinstance(extra, dict) else {"message": str(extra)}
        elif isinstance(out, dict):
            details = {k: v for k, v in out.items() if k != "passed"}
            out = out.get("passed")
        if not isinstance(out, bool | int | np.bool_):
            raise NbopsError(f"check {self.name!r} returned {out!r}; return a bool, "
                             "(bool, details) or {'passed': bool, ...}")
        summary = str(details.get("message") or ("passed" if out else "failed"))
        return self.outcome(bool(out), summary, **details)


def schema(*, name: str = "schema") -> SchemaRule:
    """X's columns and dtypes equal the candidate's recorded training schema."""
    return SchemaRule(name)


def nulls(max_increase: float = 0.05, *, name: str = "nulls") -> NullsRule:
    """No null explosion: each column's null share at most ``max_increase`` above training."""
    if not 0 <= max_increase <= 1:
        raise NbopsError(f"max_increase is a share in [0, 1], got {max_increase!r}")
    return NullsRule(float(max_increase), name)


def drift(max_share: float = 0.3, *, columns: Sequence[str] | None = None,
          methods: dict[str, str] | None = None, name: str = "drift") -> DriftRule:
    """Drift below a bound: at most ``max_share`` of the columns drifted from the training data."""
    if not 0 <= max_share <= 1:
        raise NbopsError(f"max_share is a share in [0, 1], got {max_share!r}")
    return DriftRule(float(max_share), columns, methods, name)


def check(fn: Callable[[GateContext], Any], *, name: str | None = None) -> CustomRule:
    """A custom gate: ``fn(ctx)`` sees ``ctx.model``, ``ctx.baseline_model``, ``ctx.X``, ``ctx.y``."""
    if not callable(fn):
        raise NbopsError(f"check() needs a callable, got {fn!r}")
    own = getattr(fn, "__name__", "")
    return CustomRule(fn, name or (own if own and not own.startswith("<") else "custom"))
