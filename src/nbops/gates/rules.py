"""Model rules: metric thresholds (absolute and relative to the current holder) and per-slice
no-regression. Every rule has a ``name``: the gate name a policy lists (``Policy.gates``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from nbops.errors import NbopsError
from nbops.gates.context import BASELINE, CANDIDATE, GateContext
from nbops.gates.metrics import MetricSpec, metric_spec
from nbops.gates.report import GateOutcome


class Rule:
    """Base of every gate rule: ``evaluate(ctx)`` returns one :class:`GateOutcome`."""

    kind: ClassVar[str] = "rule"
    name: str
    needs_labels: ClassVar[bool] = False

    @property
    def needs_baseline(self) -> bool:
        return False

    def evaluate(self, ctx: GateContext) -> GateOutcome:  # pragma: no cover - abstract
        raise NotImplementedError

    def outcome(self, passed: bool, summary: str, **details: Any) -> GateOutcome:
        return GateOutcome(self.name, self.kind, bool(passed), summary, details)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"


def _worse_by(spec: MetricSpec, value: float, ref: float) -> float:
    """How much worse ``value`` is than ``ref`` (negative = better), whatever the direction."""
    return ref - value if spec.higher_is_better else value - ref


@dataclass
class MetricRule(Rule):
    """``metric`` within [min, max], and no more than ``max_drop`` worse than the current holder."""

    kind: ClassVar[str] = "metric"
    needs_labels: ClassVar[bool] = True
    spec: MetricSpec
    min: float | None
    max: float | None
    max_drop: float | None
    name: str

    @property
    def needs_baseline(self) -> bool:
        return self.max_drop is not None

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        value = ctx.score(CANDIDATE, self.spec)
        problems, parts = [], [f"{self.spec.name} = {_fmt(value)}"]
        if self.min is not None and not value >= self.min:
            problems.append(f"below the minimum {self.min:g}")
        if self.max is not None and not value <= self.max:
            problems.append(f"above the maximum {self.max:g}")
        ref = None
        if self.max_drop is not None:
            if ctx.baseline is None:
                parts.append("no current holder to compare with")
            else:
                ref = ctx.score(BASELINE, self.spec)
                worse = _worse_by(self.spec, value, ref)
                parts.append(f"v{ctx.baseline.version}: {_fmt(ref)} (change {value - ref:+.4g})")
                if not worse <= self.max_drop:
                    problems.append(f"{worse:.4g} worse than v{ctx.baseline.version}, "
                                    f"more than the allowed {self.max_drop:g}")
        summary = ", ".join(parts) + (": " + "; ".join(problems) if problems else "")
        return self.outcome(not problems, summary, metric=self.spec.name, value=value, baseline=ref,
                            min=self.min, max=self.max, max_drop=self.max_drop,
                            higher_is_better=self.spec.higher_is_better)


def metric(metric_name: str, *, min: float | None = None, max: float | None = None,  # noqa: A002
           max_drop: float | None = None, fn: Callable[[Any, Any], float] | None = None,
           higher_is_better: bool | None = None, name: str | None = None) -> MetricRule:
    """A metric threshold on (X, y): absolute (``min``/``max``) and/or relative (``max_drop``:
    how much worse than the current holder of ``against`` it may be, on the same data)."""
    if min is None and max is None and max_drop is None:
        raise NbopsError(f"metric({metric_name!r}) needs min=, max= or max_drop=")
    spec = metric_spec(metric_name, fn, higher_is_better)
    return MetricRule(spec, min, max, max_drop, name or f"metric:{metric_name}")


@dataclass
class SliceRule(Rule):
    """Per slice of ``by``: the candidate no more than ``max_drop`` worse than the current holder."""

    kind: ClassVar[str] = "slices"
    needs_labels: ClassVar[bool] = True
    by: Any
    spec: MetricSpec
    max_drop: float
    min_rows: int
    name: str

    @property
    def needs_baseline(self) -> bool:
        return True

    def _keys(self, ctx: GateContext) -> np.ndarray:
        if isinstance(self.by, str):
            if self.by not in ctx.X.columns:
                raise NbopsError(f"no column {self.by!r} in X to slice by",
                                 hint="give a column of X, or an array of slice keys as long as X")
            return np.asarray(ctx.X[self.by].astype(object))
        keys = np.asarray(self.by, dtype=object)
        if len(keys) != len(ctx.X):
            raise NbopsError(f"the slice keys have {len(keys)} values, X has {len(ctx.X)} rows")
        return keys

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        keys = self._keys(ctx)
        table, worst, regressed = [], None, []
        for key in sorted(set(keys.tolist()), key=str):
            rows = keys == key
            entry: dict[str, Any] = {"slice": str(key), "rows": int(rows.sum())}
            table.append(entry)
            if entry["rows"] < self.min_rows:
                entry["skipped"] = f"fewer than {self.min_rows} rows"
                continue
            try:
                entry["candidate"] = ctx.score(CANDIDATE, self.spec, rows)
                if ctx.baseline is not None:
                    entry["baseline"] = ctx.score(BASELINE, self.spec, rows)
            except ValueError as exc:  # e.g. roc_auc on a slice holding one class
                entry["skipped"] = str(exc).splitlines()[0]
                continue
            if ctx.baseline is not None:
                worse = _worse_by(self.spec, entry["candidate"], entry["baseline"])
                entry["worse_by"] = worse
                worst = worse if worst is None else max(worst, worse)
                if worse > self.max_drop:
                    regressed.append(f"{key} ({_fmt(entry['baseline'])} -> {_fmt(entry['candidate'])})")
        return self.outcome(not regressed, self._summary(ctx, table, regressed), by=self._by_label(),
                            metric=self.spec.name, max_drop=self.max_drop, slices=table,
                            worst_drop=worst)

    def _by_label(self) -> str:
        return self.by if isinstance(self.by, str) else getattr(self.by, "name", None) or "keys"

    def _summary(self, ctx: GateContext, table: list[dict[str, Any]], regressed: list[str]) -> str:
        n = sum("skipped" not in e for e in table)
        head = f"{self.spec.name} on {n} slice(s) of {self._by_label()}"
        if ctx.baseline is None:
            return f"{head}; no current holder to compare with"
        if regressed:
            return (f"{head}: {len(regressed)} regressed more than {self.max_drop:g} vs "
                    f"v{ctx.baseline.version}: {', '.join(regressed)}")
        return f"{head}: none worse than v{ctx.baseline.version} by more than {self.max_drop:g}"


def slices(by: Any, metric: str = "accuracy", *, max_drop: float = 0.0, min_rows: int = 20,
           fn: Callable[[Any, Any], float] | None = None, name: str | None = None) -> SliceRule:
    """No regression per slice: ``by`` is a column of X, or slice keys (array/Series) as long
    as X; slices with fewer than ``min_rows`` rows are reported, not judged."""
    if max_drop < 0 or min_rows < 1:
        raise NbopsError("slices() needs max_drop >= 0 and min_rows >= 1")
    label = by if isinstance(by, str) else getattr(by, "name", None)
    return SliceRule(by, metric_spec(metric, fn), float(max_drop), int(min_rows),
                     name or (f"slices:{label}" if label else "slices"))
