"""``show.ab``: an experiment's estimates, posterior densities with P(better), cumulative lift
with its confidence sequence, SRM, units over time and the decision with its reasons.

The numbers are the experiment's own :class:`~nbops.abtest.report.Report` (computed with
``enforce=False``: looking never stops an experiment). Over time, units are bucketed by
their first exposure in DuckDB (``variant_timeline``, about 60 buckets); the lift at each
bucket end is the same always-valid test the report uses, on the units seen so far, so the
last point is the report's.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import pandas as pd
import plotly.graph_objects as go

from nbops.widgets.base import Dashboard, StaticPart, figure_widget, table_html
from nbops.widgets.dashboards import replace_figure
from nbops.widgets.figures_ab import (
    ab_estimates_figure,
    ab_lift_figure,
    ab_posterior_figure,
    ab_units_figure,
    srm_text,
)

if TYPE_CHECKING:
    from nbops.abtest.report import Report
    from nbops.workspace import Workspace

BUCKETS = 60


def cumulative(timeline: pd.DataFrame, variants: Sequence[str]) -> pd.DataFrame:
    """Per-bucket sums made cumulative per variant, every variant present at every bucket."""
    cols = ["units", "n", "total", "total_sq"]
    if timeline.empty:
        return pd.DataFrame(columns=["bucket", "variant", *cols])
    wide = timeline.pivot_table(index="bucket", columns="variant", values=cols, aggfunc="sum",
                                fill_value=0).sort_index().cumsum()
    out = wide.stack("variant").reset_index()
    out["variant"] = pd.Categorical(out["variant"], categories=list(variants))
    out = out.dropna(subset=["variant"]).sort_values(["variant", "bucket"])
    return out.assign(variant=out["variant"].astype(str)).reset_index(drop=True)


def lift_over_time(cum: pd.DataFrame, variants: Sequence[str], *, alpha: float,
                   tau: float) -> pd.DataFrame:
    """Each treatment's always-valid lift and confidence sequence at every bucket end (the
    report's ``sequential_test`` on the units seen so far; buckets with < 2 units per side skipped)."""
    from nbops.abtest import stats
    from nbops.abtest.report import Summary

    rows = []
    control = variants[0]
    by = {v: g.set_index("bucket") for v, g in cum.groupby("variant")}
    if control not in by:
        return pd.DataFrame(columns=["bucket", "variant", "estimate", "cs_low", "cs_high", "p_value"])
    for v in variants[1:]:
        if v not in by:
            continue
        for bucket, c in by[control].iterrows():
            t = by[v].loc[bucket]
            sc = Summary(int(c["units"]), int(c["n"]), float(c["total"]), float(c["total_sq"]))
            st = Summary(int(t["units"]), int(t["n"]), float(t["total"]), float(t["total_sq"]))
            if sc.n < 2 or st.n < 2:
                continue
            r = stats.sequential_test(sc.mean, sc.var, sc.n, st.mean, st.var, st.n, alpha=alpha, tau=tau)
            rows.append({"bucket": bucket, "variant": v, "estimate": r.estimate,
                         "cs_low": r.interval[0], "cs_high": r.interval[1], "p_value": r.p_value})
    return pd.DataFrame(rows, columns=["bucket", "variant", "estimate", "cs_low", "cs_high", "p_value"])


def ab_data(ws: Workspace, name: str, *, alpha: float = 0.05, tau: float = 0.1,
            min_units: int = 100) -> dict[str, Any]:
    from nbops import ab
    from nbops.abtest.spec import MetricKind

    exp = ab.get(name, ws=ws)
    report = exp.report(alpha=alpha, tau=tau, min_units=min_units, enforce=False)
    metric = exp.metric
    timeline = exp.repo.variant_timeline(name, metric.agg, metric.kind == MetricKind.BINARY, BUCKETS)
    variants = list(exp.variants)
    cum = cumulative(timeline, variants)
    lift = lift_over_time(cum, variants, alpha=alpha, tau=tau) if report.mode != "shadow" else \
        lift_over_time(cum.iloc[0:0], variants, alpha=alpha, tau=tau)
    return {"report": report, "units": cum[["bucket", "variant", "units"]], "lift": lift,
            "metric": metric.name, "variants": exp.variants}


def decision_html(report: Report) -> str:
    color = {"winner": "#2ca02c", "SRM: do not trust": "#d62728",
             "guardrail breached": "#d62728"}.get(str(report.decision), "#1f77b4")
    winner = f" → <b>{html.escape(report.winner)}</b>" if report.winner else ""
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in report.reasons)
    units = ", ".join(f"{html.escape(k)}: {v:,}" for k, v in report.units.items())
    return (f"<div class='nbops-decision' style='border-left:4px solid {color};padding-left:8px'>"
            f"<b style='color:{color}'>Decision: {html.escape(str(report.decision))}</b>{winner}"
            f" <span>({html.escape(report.mode)}, {html.escape(report.status)})</span>"
            f"<ul>{reasons}</ul><p>units: {units} · {html.escape(srm_text(report))}</p></div>")


class ExperimentDashboard(Dashboard):
    """An A/B experiment's result: estimates, posteriors with P(better), lift over time, SRM, the decision."""

    def __init__(self, ws: Workspace, experiment: str, *, alpha: float = 0.05, tau: float = 0.1,
                 min_units: int = 100, **kwargs: Any) -> None:
        self.experiment, self.alpha, self.tau, self.min_units = experiment, alpha, tau, min_units
        self.title = f"Experiment {experiment}"
        super().__init__(ws, **kwargs)

    def load(self) -> None:
        self.data = ab_data(self.ws, self.experiment, alpha=self.alpha, tau=self.tau,
                            min_units=self.min_units)

    def _figures(self) -> list[go.Figure]:
        d, t = self.data, self.template
        return [ab_estimates_figure(d["report"], template=t), ab_posterior_figure(d["report"], template=t),
                ab_lift_figure(d["lift"], template=t), ab_units_figure(d["units"], d["report"], template=t)]

    def build(self) -> None:
        self.decision = w.HTML(decision_html(self.data["report"]))
        self.fig_estimates, self.fig_posterior, self.fig_lift, self.fig_units = (
            figure_widget(f) for f in self._figures())

    def _widgets(self) -> list[go.FigureWidget]:
        return [self.fig_estimates, self.fig_posterior, self.fig_lift, self.fig_units]

    def body(self) -> Sequence[w.Widget]:
        return [self.decision, *self._widgets()]

    def update(self) -> None:
        self.decision.value = decision_html(self.data["report"])
        for target, fig in zip(self._widgets(), self._figures(), strict=True):
            replace_figure(target, fig)

    def static_parts(self) -> list[StaticPart]:
        frame = self.data["report"].to_frame()
        return [decision_html(self.data["report"]), *self._widgets(), table_html(frame) if len(frame) else ""]
