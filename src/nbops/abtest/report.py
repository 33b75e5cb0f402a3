"""The experiment report: from one row per exposed unit to a decision with its reasons.

The decision uses the sequential (always-valid) test, so calling ``report()`` as often as
you like does not inflate false positives; the fixed-horizon test, the Bayesian
comparison and CUPED (when a pre-period covariate is given) are reported alongside.
Order of reasons: guardrail breach, not enough data, SRM, then the metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from nbops.abtest import stats
from nbops.abtest.spec import Guardrail, GuardrailKind, Metric, MetricKind


class Decision(StrEnum):
    WINNER = "winner"
    NO_DIFFERENCE = "no significant difference yet"
    NOT_ENOUGH_DATA = "not enough data"
    SRM = "SRM: do not trust"
    GUARDRAIL = "guardrail breached"
    SHADOW = "shadow: compare predictions"


@dataclass(frozen=True)
class Comparison:
    """One treatment against control on the experiment's metric."""

    variant: str
    test: stats.TestResult
    sequential: stats.SequentialResult
    bayes: stats.BayesResult
    cuped: stats.CupedResult | None = None
    adjusted_p: float | None = None  # Holm across treatments (fixed-horizon p-values)


@dataclass(frozen=True)
class Report:
    experiment: str
    status: str
    mode: str
    decision: Decision
    winner: str | None
    reasons: tuple[str, ...]
    units: dict[str, int]
    srm: stats.SRMResult | None
    comparisons: tuple[Comparison, ...] = ()
    breaches: tuple[str, ...] = ()
    health: dict[str, dict[str, float]] = field(default_factory=dict)
    shadow_agreement: float | None = None

    def comparison(self, variant: str) -> Comparison:
        return next(c for c in self.comparisons if c.variant == variant)

    def to_frame(self) -> pd.DataFrame:
        rows = []
        for c in self.comparisons:
            rows.append({"variant": c.variant, "n_control": c.test.n_control,
                         "n_treatment": c.test.n_treatment, "control": c.test.mean_control,
                         "treatment": c.test.mean_treatment, "lift": c.test.estimate,
                         "ci_low": c.test.interval[0], "ci_high": c.test.interval[1],
                         "relative_lift": c.test.relative, "p_value": c.test.p_value,
                         "p_always_valid": c.sequential.p_value,
                         "cs_low": c.sequential.interval[0], "cs_high": c.sequential.interval[1],
                         "p_better": c.bayes.probability, "expected_loss": c.bayes.expected_loss})
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        lines = [f"experiment {self.experiment} ({self.mode}, {self.status}): {self.decision}"
                 + (f" -> {self.winner}" if self.winner else "")]
        lines += [f"  - {r}" for r in self.reasons]
        lines.append("  units: " + ", ".join(f"{k}={v}" for k, v in self.units.items()))
        if self.srm is not None:
            lines.append(f"  SRM check: p={self.srm.p_value:.4g} "
                         f"({'MISMATCH' if self.srm.mismatch else 'ok'})")
        for c in self.comparisons:
            t, s, b = c.test, c.sequential, c.bayes
            rel = f" ({t.relative:+.2%})" if t.relative is not None else ""
            lines.append(f"  {c.variant} vs control: lift {t.estimate:+.4g}{rel} "
                         f"CI [{t.interval[0]:+.4g}, {t.interval[1]:+.4g}], p={t.p_value:.3g}; "
                         f"always-valid p={s.p_value:.3g} CS [{s.interval[0]:+.4g}, {s.interval[1]:+.4g}]; "
                         f"P(better)={b.probability:.3f}, expected loss={b.expected_loss:.3g}")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return "```\n" + str(self) + "\n```"


@dataclass(frozen=True)
class Summary:
    """A variant's metric over its units: units exposed, units with a value, sum, sum of squares."""

    units: int
    n: int
    total: float
    total_sq: float

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else float("nan")

    @property
    def var(self) -> float:
        if self.n < 2:
            return float("nan")
        return max(0.0, (self.total_sq - self.n * self.mean**2) / (self.n - 1))


def summarize(units: pd.DataFrame, variants: list[str], metric: Metric) -> dict[str, Summary]:
    """Summaries from a per-unit frame (unit_id, variant, value)."""
    out = {}
    for v in variants:
        x = units.loc[units["variant"] == v, "value"].to_numpy(dtype=float, na_value=np.nan)
        n_units = len(x)
        x = np.nan_to_num(x, nan=0.0) if metric.kind == MetricKind.BINARY else x[~np.isnan(x)]
        out[v] = Summary(n_units, len(x), float(x.sum()), float((x * x).sum()))
    return out


def _unit_values(units: pd.DataFrame, variant: str, metric: Metric) -> np.ndarray:
    x = units.loc[units["variant"] == variant, "value"].to_numpy(dtype=float, na_value=np.nan)
    return np.nan_to_num(x, nan=0.0) if metric.kind == MetricKind.BINARY else x[~np.isnan(x)]


def compare(control: Summary, treatment: Summary, metric: Metric, variant: str, *,
            alpha: float, tau: float, cuped: stats.CupedResult | None = None,
            seed: int = 0) -> Comparison:
    """All the tests of one treatment against control on per-variant summaries."""
    nc, nt = control.n, treatment.n
    mc, mt, vc, vt = control.mean, treatment.mean, control.var, treatment.var
    if metric.kind == MetricKind.BINARY:
        xc, xt = round(control.total), round(treatment.total)
        test = stats.two_proportion_ztest(xc, nc, xt, nt, alpha=alpha)
        bayes = stats.bayes_beta_binomial(xc, nc, xt, nt, alpha=alpha, seed=seed)
    else:
        test = stats.welch_from_stats(mc, vc, nc, mt, vt, nt, alpha=alpha)
        bayes = stats.bayes_normal(mc, vc, nc, mt, vt, nt, alpha=alpha)
    seq = stats.sequential_test(mc, vc, nc, mt, vt, nt, alpha=alpha, tau=tau)
    return Comparison(variant, test, seq, bayes, cuped)


def _pre_values(units: pd.DataFrame, variant: str, pre_period: pd.Series) -> np.ndarray:
    ids = units.loc[units["variant"] == variant, "unit_id"].astype(str)
    pre = pre_period.copy()
    pre.index = pre.index.astype(str)
    return ids.map(pre).fillna(0.0).to_numpy(dtype=float)


def guardrail_breaches(guardrails: list[Guardrail], health: dict[str, dict[str, float]],
                       means: dict[str, float], units: dict[str, int], control: str) -> list[str]:
    """The guardrails a non-control variant breaks, as sentences (judged once it has
    ``min_units`` units); control is what the experiment falls back to, so it is not judged."""
    out = []
    for g in guardrails:
        for variant, n in units.items():
            if variant == control or n < g.min_units:
                continue
            if g.kind == GuardrailKind.ERROR_RATE:
                h = health.get(variant, {})
                rate = h.get("errors", 0) / h["requests"] if h.get("requests") else 0.0
                if rate > g.threshold:
                    out.append(f"{variant}: error rate {rate:.3%} above {g.threshold:.3%}")
            elif variant in means and means[variant] < g.threshold:
                out.append(f"{variant}: metric {means[variant]:.4g} below the floor {g.threshold:g}")
    return out


def decide(comparisons: list[Comparison], metric: Metric, control: str, alpha: float
           ) -> tuple[Decision, str | None, list[str]]:
    """Winner by the always-valid test; ties and non-significance say so."""
    significant = [c for c in comparisons if c.sequential.p_value < alpha]
    if not significant:
        best = max(comparisons, key=lambda c: c.bayes.probability)
        return Decision.NO_DIFFERENCE, None, [
            f"no always-valid p-value below {alpha:g} yet (best: {best.variant}, "
            f"p={best.sequential.p_value:.3g}, P(better)={best.bayes.probability:.3f}); keep collecting"]
    sign = 1 if metric.higher_is_better else -1
    better = [c for c in significant if sign * c.sequential.estimate > 0]
    if not better:
        c = significant[0]
        return Decision.WINNER, control, [f"control beats {c.variant}: lift {c.test.estimate:+.4g} "
                                          f"(CS [{c.sequential.interval[0]:+.4g}, {c.sequential.interval[1]:+.4g}])"]
    best = max(better, key=lambda c: sign * c.sequential.estimate)
    t = best.test
    return Decision.WINNER, best.variant, [
        f"{best.variant} wins: lift {t.estimate:+.4g} (95% CI [{t.interval[0]:+.4g}, {t.interval[1]:+.4g}]"
        + (f", relative {t.relative:+.2%}" if t.relative is not None else "")
        + f"), always-valid p={best.sequential.p_value:.3g}, P(better)={best.bayes.probability:.3f}"]


def _cuped(units: pd.DataFrame, control: str, variant: str, metric: Metric, pre: pd.Series,
           alpha: float) -> stats.CupedResult:
    return stats.cuped_ttest(_unit_values(units, control, metric), _pre_values(units, control, pre),
                             _unit_values(units, variant, metric), _pre_values(units, variant, pre),
                             alpha=alpha)


def analyze(experiment: str, status: str, mode: str, summaries: dict[str, Summary], variants: list[str],
            weights: dict[str, float] | None, metric: Metric, *, guardrails: list[Guardrail],
            health: dict[str, dict[str, float]], alpha: float = 0.05, min_units: int = 100,
            tau: float = 0.1, units: pd.DataFrame | None = None, pre_period: pd.Series | None = None,
            shadow_agreement: float | None = None) -> Report:
    """The report of one experiment from its per-variant summaries (``units``, the per-unit
    frame, is needed only for CUPED with ``pre_period``)."""
    control = variants[0]
    empty = Summary(0, 0, 0.0, 0.0)
    sums = {v: summaries.get(v, empty) for v in variants}
    counts = {v: sums[v].units for v in variants}
    means = {v: s.mean for v, s in sums.items() if s.n}
    breaches = guardrail_breaches(guardrails, health, means, counts, control)
    common: dict[str, Any] = dict(experiment=experiment, status=status, mode=mode, units=counts,
                                  breaches=tuple(breaches), health=health,
                                  shadow_agreement=shadow_agreement)
    srm = stats.srm_test([counts[v] for v in variants], [weights[v] for v in variants]) \
        if weights and all(weights[v] > 0 for v in variants) and sum(counts.values()) else None
    if breaches:
        return Report(decision=Decision.GUARDRAIL, winner=control, srm=srm,
                      reasons=tuple(breaches) + ("the experiment is stopped; control keeps serving",),
                      **common)
    if mode == "shadow":
        agree = "n/a" if shadow_agreement is None else f"{shadow_agreement:.2%}"
        return Report(decision=Decision.SHADOW, winner=None, srm=None, reasons=(
            f"every request was answered by {control}; the other variants agreed on {agree} of them",
            "outcomes measure control only: run an A/B test to compare outcomes"), **common)
    small = [v for v in variants if sums[v].n < min_units]
    if small:
        return Report(decision=Decision.NOT_ENOUGH_DATA, winner=None, srm=srm, reasons=tuple(
            f"{v} has {sums[v].n} units with a metric value; at least {min_units} needed"
            for v in small), **common)
    if srm is not None and srm.mismatch:
        return Report(decision=Decision.SRM, winner=None, srm=srm, reasons=(
            f"units {srm.observed} do not match the weights (expected "
            f"{tuple(round(e) for e in srm.expected)}, p={srm.p_value:.2g}): assignment or logging "
            "is broken; fix it before reading any result",), **common)
    comps = [compare(sums[control], sums[v], metric, v, alpha=alpha, tau=tau,
                     cuped=None if pre_period is None or units is None
                     else _cuped(units, control, v, metric, pre_period, alpha))
             for v in variants[1:]]
    if len(comps) > 1:
        adj = stats.holm([c.test.p_value for c in comps], alpha=alpha).adjusted
        comps = [Comparison(c.variant, c.test, c.sequential, c.bayes, c.cuped, a)
                 for c, a in zip(comps, adj, strict=True)]
    decision, winner, reasons = decide(comps, metric, control, alpha)
    if srm is None:
        reasons.append("SRM not checked: the weights changed during the experiment "
                       "(or a variant has weight 0)")
    return Report(decision=decision, winner=winner, srm=srm, reasons=tuple(reasons),
                  comparisons=tuple(comps), **common)
